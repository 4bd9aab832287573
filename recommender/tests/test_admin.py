"""The model registry in Django admin: metrics beside baselines, activate and roll back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from recommender.models import ModelVersion
from recommender.services import model_train

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/recommender/modelversion/"


@pytest.fixture
def staff(db: None) -> Client:
    user = User.objects.create_superuser("ops", "ops@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_changelist_shows_metrics_and_baselines(
    trained: ModelVersion, staff: Client, django_assert_max_num_queries: Any
) -> None:
    model_train(seed=42, activate=False)
    with django_assert_max_num_queries(10):
        response = staff.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    ndcg = f"{trained.metrics['ndcg_at_10']:.4f}"
    like = f"{trained.metrics['baselines']['popularity_likes']['ndcg_at_10']:.4f}"
    assert ndcg in page
    assert like in page
    assert "Pop-likes NDCG@10" in page


def test_change_page_renders_read_only(trained: ModelVersion, staff: Client) -> None:
    response = staff.get(f"{CHANGELIST}{trained.pk}/change/")
    assert response.status_code == 200
    assert trained.artifact_sha256 in response.content.decode()
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
    assert "No action selected." in response.content.decode()
    assert ModelVersion.objects.get(is_active=True).version == 1
