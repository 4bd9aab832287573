"""The middleware chain: browser middleware only where browsers go; cheap, unique request ids."""

from __future__ import annotations

import os
import re

import pytest
from django.test import Client

from movierec.guards import is_api_path
from movierec.middleware import request_ids

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize(
    ("path", "lean"),
    [
        ("/api/recommend", True),
        ("/api/authenticate", True),
        ("/api/schema/", True),
        ("/healthz", True),
        ("/readyz", True),
        ("/metrics", True),
        ("/admin/", False),
        ("/admin/login/", False),
        ("/static/admin/css/base.css", False),
        ("/apix", False),
    ],
)
def test_if_path_is_the_json_api_or_a_probe_then_it_is_lean(path: str, lean: bool) -> None:
    assert is_api_path(path) is lean


def test_if_api_request_then_no_user_or_messages_are_attached() -> None:
    response = Client().get("/healthz")

    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "user")
    assert not hasattr(request, "_messages")
    assert "Cookie" not in response.get("Vary", "")


def test_if_api_request_then_security_headers_are_still_sent() -> None:
    response = Client().post("/api/authenticate", {}, content_type="application/json")

    assert response.status_code == 400

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert GENERATED_ID.match(response["X-Request-ID"])


def test_if_admin_page_then_the_full_browser_chain_runs() -> None:
    response = Client().get("/admin/login/")

    assert response.status_code == 200
    request = response.wsgi_request
    assert hasattr(request, "session")
    assert request.user.is_anonymous
    assert hasattr(request, "_messages")
    assert "csrftoken" in response.cookies
    assert response["X-Frame-Options"] == "DENY"


def test_if_admin_form_posted_without_csrf_token_then_403() -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", {"username": "a", "password": "b"})

    assert response.status_code == 403


def test_if_ids_generated_then_each_is_32_hex_and_unique() -> None:
    ids = [request_ids.new() for _ in range(10_000)]

    assert all(GENERATED_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_if_process_forks_then_the_child_draws_other_ids() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id through the pipe, then exit at once
        os.write(write_end, request_ids.new().encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 64).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_id = request_ids.new()

    assert GENERATED_ID.match(child_id)
    assert child_id[:16] != parent_id[:16]
