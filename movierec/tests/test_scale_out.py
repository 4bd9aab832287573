"""Scale-out: two independently started servers on one Postgres and one Redis agree.

Starts two gunicorn processes (one worker each) against the test database, then checks that
they give the same recommendations for the same profile and that a key revoked while both
are running stops working on both within API_KEY_STATE_TTL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from movierec.tests.live import gunicorn_server, post_json
from recommender.services import model_train
from recommender.tests.conftest import build_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[str]]:
    with (
        gunicorn_server(workers=1, metrics_dir=tmp_path / "a") as (first, _),
        gunicorn_server(workers=1, metrics_dir=tmp_path / "b") as (second, _),
    ):
        yield [first, second]


def test_two_servers_agree_on_answers_and_on_revocation(two_servers: list[str]) -> None:
    build_catalogue()
    assert model_train(seed=42).activated
    key, raw = api_key_create(name="scale-out")
    first, second = two_servers

    status, body = post_json(f"{first}/api/authenticate", {"key": raw})
    assert status == 200
    token = body["token"]
    profile = {"age": 35, "gender": "F", "occupation": "engineer", "limit": 5}
    answers = [post_json(f"{base}/api/recommend", profile, token) for base in two_servers]
    assert answers[0][0] == answers[1][0] == 200
    assert answers[0][1] == answers[1][1]
    assert len(answers[0][1]) == 5

    api_key_revoke(api_key=ApiKey.objects.get(pk=key.pk))
    deadline = time.monotonic() + settings.API_KEY_STATE_TTL + 1
    refused: set[str] = set()
    while time.monotonic() < deadline and len(refused) < 2:
        for base in two_servers:
            status, body = post_json(f"{base}/api/recommend", profile, token)
            if status == 401:
                refused.add(base)
        time.sleep(0.2)
    assert refused == {first, second}
    assert post_json(f"{second}/api/authenticate", {"key": raw})[0] == 401
