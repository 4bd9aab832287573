"""The model registry in Django admin: metrics beside baselines, activate and roll back."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from recommender.models import ModelVersion
from recommender.services import model_train
from recommender.tests.metrics_fixture import known_metrics

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/recommender/modelversion/"
BASELINE = Path(__file__).resolve().parents[1] / "baseline.json"


@pytest.fixture
def staff(db: None) -> Client:
    user = User.objects.create_superuser("ops", "ops@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _version(number: int, *, active: bool = False, passed: bool | None = True, shift: float = 0.0):
    gate = (
        {}
        if passed is None
        else {
            "passed": passed,
            "reasons": [f"reason one of v{number}", f"reason two of v{number}"],
            "champion_version": None,
            "margin": 0.01,
            "tolerance": 0.005,
        }
    )
    return ModelVersion.objects.create(
        version=number,
        seed=42,
        params={"alpha": 100.0},
        metrics=known_metrics(shift=shift),
        gate=gate,
        data_fingerprint="f" * 64,
        library_versions={"python": "3.11"},
        artifact=b"not loaded by these tests",
        artifact_sha256="a" * 64,
        artifact_size=25,
        train_seconds=2.80406454499996,
        is_active=active,
    )


def _cells(page: str, css_class: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(rf'<td class="field-{css_class}">(.*?)</td>', page, re.S)
    ]


def test_if_versions_listed_then_state_ndcg_baseline_delta_and_report_link_show(
    staff: Client, django_assert_max_num_queries: Any
) -> None:
    champion = _version(1, active=True)
    _version(2, shift=0.01)
    _version(3, passed=False, shift=-0.02)
    _version(4, passed=None)
    with django_assert_max_num_queries(6):
        response = staff.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)
    assert headers == [
        "version", "created", "state", "ndcg", "like_popularity_ndcg", "delta_to_champion",
        "report_link",
    ]  # fmt: skip
    assert _cells(page, "state") == ["not judged", "refused", "passed gate", "active"]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", c) for c in _cells(page, "created"))
    assert 'id="changelist-filter"' not in page  # the list's width goes to its columns
    assert _cells(page, "ndcg") == ["0.4300", "0.4100", "0.4400", "0.4300"]
    assert _cells(page, "like_popularity_ndcg") == ["0.4000"] * 4
    assert _cells(page, "delta_to_champion") == [
        "+0.0000",
        "\N{MINUS SIGN}0.0200",
        "+0.0100",
        "champion",
    ]
    assert f'href="{CHANGELIST}{champion.pk}/report/"' in page


def test_if_version_page_opened_then_gate_table_and_charts_show(
    staff: Client, settings: Any
) -> None:
    settings.RECOMMENDER_BASELINE_FILE = BASELINE
    champion = _version(1, active=True, shift=-0.01)
    candidate = _version(2)
    response = staff.get(f"{CHANGELIST}{candidate.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<p class="verdict passed">✓ Passed the gate</p>' in page
    assert '<ul class="reasons"><li>reason one of v2</li><li>reason two of v2</li></ul>' in page
    head = re.findall(r"<th>([^<]*)</th>", page.split('class="comparison"')[1].split("</thead>")[0])
    assert head == ["metric", "candidate", "champion v1", "committed", "pop-likes", "pop-count"]
    assert "<tr><td>NDCG@10</td><td>0.4300</td><td>0.4200</td><td>0.4253</td>" in page
    assert page.count('role="img"') == 2
    assert "NDCG@10 per evaluation fold" in page
    assert "NDCG@10 by rater segment" in page
    assert "candidate, fold 5: 0.4500" in page
    assert "champion, fold 5: 0.4400" in page
    assert ">n = 7</text>" in page
    assert "doctor: 0.3193 (under 20 raters)" in page
    assert "<td>2.8 s</td>" in page
    assert "2.80406454499996" not in page
    assert f'href="{CHANGELIST}{candidate.pk}/report/"' in page
    assert f"<td>v{champion.version} (the version serving now)</td>" in page


def test_if_report_link_followed_then_a_self_contained_document_answers(staff: Client) -> None:
    _version(1, active=True)
    candidate = _version(2, shift=0.01)
    response = staff.get(f"{CHANGELIST}{candidate.pk}/report/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    page = response.content.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>movierec model v2: evaluation and gate</title>" in page
    assert page.count("<svg xmlns") == 2
    assert "<script" not in page
    assert staff.get(f"{CHANGELIST}999/report/").status_code == 404


def test_if_report_asked_without_staff_login_then_login_page(db: None) -> None:
    version = _version(1)
    response = Client().get(f"{CHANGELIST}{version.pk}/report/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_if_active_version_deleted_then_message_says_why_and_it_stays(staff: Client) -> None:
    active = _version(1, active=True)
    response = staff.get(f"{CHANGELIST}{active.pk}/delete/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [(f"{CHANGELIST}{active.pk}/change/", 302)]
    page = response.content.decode()
    assert (
        "Version 1 is active: it serves /api/recommend, so it cannot be deleted. "
        "Activate or roll back to another version first, then delete this one."
    ) in page
    response = staff.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [active.pk]}, follow=True
    )
    assert "Version 1 is active: it serves /api/recommend" in response.content.decode()
    assert ModelVersion.objects.filter(pk=active.pk).exists()


def test_if_inactive_version_deleted_then_it_goes(staff: Client) -> None:
    _version(1, active=True)
    old = _version(2)
    response = staff.post(f"{CHANGELIST}{old.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not ModelVersion.objects.filter(pk=old.pk).exists()


def test_change_page_renders_read_only(trained: ModelVersion, staff: Client) -> None:
    response = staff.get(f"{CHANGELIST}{trained.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert trained.artifact_sha256 in page
    # A version trained by the real pipeline gets its report, occupations included.
    assert page.count('role="img"') == 2
    assert ">Occupation</text>" in page
    assert staff.get(f"{CHANGELIST}add/").status_code == 403


def test_activate_action_goes_through_the_gate(trained: ModelVersion, staff: Client) -> None:
    candidate = model_train(seed=42, activate=False).version
    response = staff.post(
        CHANGELIST, {"action": "activate", "_selected_action": [candidate.pk]}, follow=True
    )
    assert "Version 2 is now active." in response.content.decode()
    assert ModelVersion.objects.get(is_active=True).version == 2


def test_activate_action_refused_by_gate_keeps_champion(
    trained: ModelVersion, staff: Client
) -> None:
    candidate = model_train(seed=42, activate=False).version
    ModelVersion.objects.filter(pk=trained.pk).update(
        metrics=dict(trained.metrics, ndcg_at_10=0.99)
    )
    response = staff.post(
        CHANGELIST, {"action": "activate", "_selected_action": [candidate.pk]}, follow=True
    )
    assert "Version 2 was not activated:" in response.content.decode()
    assert ModelVersion.objects.get(is_active=True).version == 1


def test_roll_back_action_reactivates_earlier_version(trained: ModelVersion, staff: Client) -> None:
    newer = model_train(seed=42, activate=False).version
    staff.post(CHANGELIST, {"action": "activate", "_selected_action": [newer.pk]})
    ModelVersion.objects.filter(pk=newer.pk).update(metrics=dict(newer.metrics, ndcg_at_10=0.99))
    response = staff.post(
        CHANGELIST, {"action": "roll_back", "_selected_action": [trained.pk]}, follow=True
    )
    assert "Version 1 is now active." in response.content.decode()


def test_staff_without_activate_permission_cannot_activate(trained: ModelVersion) -> None:
    candidate = model_train(seed=42, activate=False).version
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_modelversion"))
    client = Client()
    client.force_login(user)
    page = client.get(CHANGELIST).content.decode()
    assert "Activate the selected version" not in page
    response = client.post(
        CHANGELIST, {"action": "activate", "_selected_action": [candidate.pk]}, follow=True
    )
    assert "is now active" not in response.content.decode()
    assert ModelVersion.objects.get(is_active=True).version == 1
