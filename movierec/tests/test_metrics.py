"""Prometheus metrics at /metrics: per-endpoint counts and latencies, model version,
recommendations; aggregated across gunicorn workers in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.services import api_key_create
from movierec.tests.live import ROOT, gunicorn_server, post_json
from recommender.models import ModelVersion
from recommender.services import model_train
from recommender.tests.conftest import build_catalogue

pytestmark = pytest.mark.django_db

PROFILE: dict[str, Any] = {"age": 30, "gender": "F", "occupation": "writer", "limit": 3}
RECOMMEND_200 = {"endpoint": "api/recommend", "method": "POST", "status": "200"}


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name{labels}`` in an exposition text; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def _scrape(client: APIClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_metrics_count_requests_per_endpoint_method_and_status(
    api_client: APIClient, auth_client: APIClient, trained: ModelVersion
) -> None:
    before = _scrape(api_client)
    for _ in range(3):
        assert auth_client.post("/api/recommend", PROFILE, format="json").status_code == 200
    assert auth_client.post("/api/recommend", {"age": 0}, format="json").status_code == 400

    after = _scrape(api_client)

    assert 'movierec_http_requests_total{endpoint="api/recommend",method="POST",status="200"}' in (
        after
    )
    name = "movierec_http_requests_total"
    assert _sample(after, name, **RECOMMEND_200) - _sample(before, name, **RECOMMEND_200) == 3
    bad = {**RECOMMEND_200, "status": "400"}
    assert _sample(after, name, **bad) - _sample(before, name, **bad) == 1


def test_metrics_record_latency_histogram_per_endpoint(
    api_client: APIClient, auth_client: APIClient, trained: ModelVersion
) -> None:
    labels = {"endpoint": "api/recommend", "method": "POST"}
    count = "movierec_http_request_duration_seconds_count"
    before = _scrape(api_client)
    for _ in range(2):
        auth_client.post("/api/recommend", PROFILE, format="json")

    after = _scrape(api_client)

    assert "# TYPE movierec_http_request_duration_seconds histogram" in after
    assert _sample(after, count, **labels) - _sample(before, count, **labels) == 2
    total = "movierec_http_request_duration_seconds_sum"
    assert _sample(after, total, **labels) > _sample(before, total, **labels)
    bucket = "movierec_http_request_duration_seconds_bucket"
    assert _sample(after, bucket, **labels, le="+Inf") == _sample(after, count, **labels)
    assert _sample(after, bucket, **labels, le="5.0") <= _sample(after, bucket, **labels, le="+Inf")


def test_metrics_count_recommendations_and_show_the_model_version(
    api_client: APIClient, auth_client: APIClient, trained: ModelVersion
) -> None:
    before = _scrape(api_client)
    for _ in range(2):
        auth_client.post("/api/recommend", PROFILE, format="json")
    auth_client.post("/api/recommend", {"age": 0}, format="json")  # refused: not a list served

    after = _scrape(api_client)

    name = "movierec_recommendations_total"
    assert _sample(after, name) - _sample(before, name) == 2
    items = "movierec_recommended_items_total"
    assert _sample(after, items) - _sample(before, items) == 2 * PROFILE["limit"]
    assert _sample(after, "movierec_model_version") == trained.version


def test_metrics_label_unknown_urls_as_unmatched(api_client: APIClient) -> None:
    labels = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    before = _scrape(api_client)
    api_client.get("/no/such/page/12345")

    after = _scrape(api_client)

    name = "movierec_http_requests_total"
    assert _sample(after, name, **labels) - _sample(before, name, **labels) == 1
    assert "/no/such/page" not in after


def test_metrics_need_no_token(api_client: APIClient) -> None:
    assert "movierec_http_requests_total" in _scrape(api_client)


# --- several gunicorn workers -----------------------------------------------------------------


@pytest.fixture
def two_worker_server(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """gunicorn with 2 workers in Prometheus multiprocess mode: (base URL, samples dir, pid)."""
    metrics_dir = tmp_path / "prometheus"
    with gunicorn_server(workers=2, metrics_dir=metrics_dir) as (base, pid):
        yield base, metrics_dir, pid


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_metrics_aggregate_requests_across_gunicorn_workers(
    two_worker_server: tuple[str, Path, int],
) -> None:
    base, metrics_dir, master_pid = two_worker_server
    build_catalogue()
    version = model_train(seed=42).version
    _, raw = api_key_create(name="metrics")
    status, body = post_json(f"{base}/api/authenticate", {"key": raw})
    assert status == 200
    token = body["token"]
    requests = 40

    # Concurrent clients: a sync worker serves one request at a time, so both must take part.
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: post_json(f"{base}/api/recommend", PROFILE, token)[0], range(requests)
            )
        )
    assert statuses == [200] * requests
    # Each process that counted something has its own counter_<pid>.db; the master counts none.
    workers = {p.stem.split("_")[-1] for p in metrics_dir.glob("counter_*.db")} - {str(master_pid)}
    assert len(workers) == 2

    for _ in range(4):  # whichever worker answers the scrape reports the same totals
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
        name = "movierec_http_requests_total"
        assert _sample(text, name, **RECOMMEND_200) == requests
        labels = {"endpoint": "api/recommend", "method": "POST"}
        assert _sample(text, "movierec_http_request_duration_seconds_count", **labels) == requests
        assert _sample(text, "movierec_recommendations_total") == requests
        assert _sample(text, "movierec_model_version") == version.version


def test_management_commands_run_when_the_multiprocess_folder_does_not_exist_yet(
    tmp_path: Path,
) -> None:
    # The image sets PROMETHEUS_MULTIPROC_DIR and its entry point runs `migrate` before
    # gunicorn (whose config creates the folder): importing the metrics must not crash.
    folder = tmp_path / "not" / "yet" / "prometheus"
    env = {**os.environ, "DJANGO_DEBUG": "1", "PROMETHEUS_MULTIPROC_DIR": str(folder)}

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert folder.is_dir()
