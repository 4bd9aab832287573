"""A new gunicorn worker loads the active model before it takes traffic (post_worker_init).

Proof from the server's own log: the "model loaded" line of every worker start is written
outside any request (request id "-"), before that worker's first access line, also for the
worker the master starts after one is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from accounts.services import api_key_create
from movierec.tests.live import gunicorn_server, post_json
from recommender.services import model_train
from recommender.tests.conftest import build_catalogue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROFILE = {"age": 35, "gender": "F", "occupation": "engineer", "limit": 3}


def _lines(log: Path) -> list[dict[str, Any]]:
    records = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def _workers(master: int) -> list[int]:
    done = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True, check=False)
    return [int(pid) for pid in done.stdout.split()]


def _wait_healthy(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("no worker answered after the restart")


def test_if_a_worker_starts_then_it_loads_the_model_before_its_first_request(
    tmp_path: Path,
) -> None:
    build_catalogue()
    assert model_train(seed=42).activated
    _key, raw = api_key_create(name="preload")
    log = tmp_path / "server.log"

    with gunicorn_server(workers=1, metrics_dir=tmp_path / "metrics", log=log) as (base, master):
        status, body = post_json(f"{base}/api/authenticate", {"key": raw})
        assert status == 200
        token = body["token"]
        assert post_json(f"{base}/api/recommend", PROFILE, token)[0] == 200

        [worker] = _workers(master)
        os.kill(worker, signal.SIGKILL)  # a crash: the master starts a new worker
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _workers(master) in ([], [worker]):
            time.sleep(0.05)
        _wait_healthy(base)
        assert post_json(f"{base}/api/recommend", PROFILE, token)[0] == 200

    records = _lines(log)
    loads = [i for i, r in enumerate(records) if r.get("message") == "model loaded"]
    recommends = [
        i for i, r in enumerate(records) if r.get("route") == "api/recommend" and r.get("status")
    ]
    assert len(loads) == 2, records  # the first worker and its replacement
    assert all(records[i]["request_id"] == "-" for i in loads)
    assert len(recommends) == 2
    # Each worker's load comes before the request it served.
    assert loads[0] < recommends[0] < loads[1] < recommends[1]
