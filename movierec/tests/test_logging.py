"""Structured logs: one JSON access line per request carrying its request id; no secrets."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.test import APIClient

from movierec.log import RequestIdFilter
from recommender.models import ModelVersion

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
PROFILE = {"age": 30, "gender": "F", "occupation": "writer", "limit": 3}


def _project_json_formatter() -> logging.Formatter:
    """The formatter the console handler uses when LOG_FORMAT=json, built from settings."""
    logging_config: dict[str, Any] = settings.LOGGING
    config = dict(logging_config["formatters"]["json"])
    factory = import_string(config.pop("()"))
    formatter: logging.Formatter = factory(**config)
    return formatter


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, at every level, as the project's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_project_json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [record for record in _records(stream) if record["logger"] == "movierec.access"]


def test_access_line_is_json_with_the_request_id_sent_back(
    api_client: APIClient, log_output: io.StringIO
) -> None:
    response = api_client.get("/healthz")

    request_id = response["X-Request-ID"]
    assert GENERATED_ID.match(request_id)
    [line] = _access_lines(log_output)
    assert line["request_id"] == request_id
    assert line["message"] == "request"
    assert line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"]) == ("GET", "healthz", 200)
    assert isinstance(line["duration_ms"], float)
    assert "time" in line


def test_every_request_gets_its_own_id(api_client: APIClient, log_output: io.StringIO) -> None:
    first = api_client.get("/healthz")["X-Request-ID"]
    second = api_client.get("/healthz")["X-Request-ID"]

    assert first != second
    assert [line["request_id"] for line in _access_lines(log_output)] == [first, second]


@pytest.mark.parametrize("supplied", ["abc-123", "A.b_C-9", "x" * 64, "0f8fad5b-d9cb-469f"])
def test_a_well_formed_client_request_id_is_echoed_and_logged(
    api_client: APIClient, log_output: io.StringIO, supplied: str
) -> None:
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID=supplied)

    assert response["X-Request-ID"] == supplied
    assert [line["request_id"] for line in _access_lines(log_output)] == [supplied]


@pytest.mark.parametrize(
    "supplied",
    ["x" * 65, "has space", "semi;colon", "new\nline", 'quote"d', "ünïcode", "a/b", "<script>"],
)
def test_a_malformed_client_request_id_is_replaced(
    api_client: APIClient, log_output: io.StringIO, supplied: str
) -> None:
    response = api_client.get("/healthz", HTTP_X_REQUEST_ID=supplied)

    replaced = response["X-Request-ID"]
    assert GENERATED_ID.match(replaced)
    assert [line["request_id"] for line in _access_lines(log_output)] == [replaced]
    assert supplied not in log_output.getvalue()


def test_log_lines_outside_a_request_carry_a_placeholder_id(log_output: io.StringIO) -> None:
    logging.getLogger("movierec.tests").warning("outside")

    [record] = _records(log_output)
    assert record["request_id"] == "-"


def test_neither_keys_nor_tokens_reach_any_log_line(
    api_client: APIClient, api_key: tuple[Any, str], trained: ModelVersion, log_output: io.StringIO
) -> None:
    raw_key = api_key[1]
    _prefix, secret = raw_key.split(".", 1)
    wrong_key = f"{_prefix}.{'w' * len(secret)}"

    issued = api_client.post("/api/authenticate", {"key": raw_key}, format="json")
    refused = api_client.post("/api/authenticate", {"key": wrong_key}, format="json")
    token = issued.json()["token"]
    signature = token.rsplit(".", 1)[1]
    served = api_client.post(
        "/api/recommend", PROFILE, format="json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    forged = f"{token[: -len(signature)]}{'A' * len(signature)}"
    rejected = api_client.post(
        "/api/recommend", PROFILE, format="json", HTTP_AUTHORIZATION=f"Bearer {forged}"
    )

    assert (issued.status_code, refused.status_code) == (200, 401)
    assert (served.status_code, rejected.status_code) == (200, 401)
    output = log_output.getvalue()
    assert len(_access_lines(log_output)) == 4  # the capture saw every request
    for secret_text in (raw_key, secret, wrong_key, token, signature, forged):
        assert secret_text not in output


def test_a_server_error_is_logged_with_its_request_id_but_without_the_token(
    api_client: APIClient, auth_token: str, trained: ModelVersion, log_output: io.StringIO
) -> None:
    api_client.raise_request_exception = False
    with mock.patch("recommender.views.recommendations_for", side_effect=RuntimeError("boom")):
        response = api_client.post(
            "/api/recommend", PROFILE, format="json", HTTP_AUTHORIZATION=f"Bearer {auth_token}"
        )

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}
    [error] = [r for r in _records(log_output) if r["logger"] == "django.request"]
    assert error["level"] == "ERROR"
    assert error["request_id"] == response["X-Request-ID"]
    assert "RuntimeError: boom" in error["exc_info"]
    output = log_output.getvalue()
    assert auth_token not in output
    assert auth_token.rsplit(".", 1)[1] not in output


def _record(**extra: Any) -> logging.LogRecord:
    record = logging.getLogger("movierec.tests").makeRecord(
        "movierec.tests", logging.WARNING, __file__, 1, "%s of %d", ("part", 3), None, extra=extra
    )
    record.created = 1_796_000_000.25  # a quarter second past a whole second
    return record


def test_json_line_has_the_fixed_fields_first_then_the_extras_in_order() -> None:
    formatter = _project_json_formatter()
    record = _record(route="api/recommend", status=200)
    RequestIdFilter().filter(record)

    line = formatter.format(record)

    assert list(json.loads(line)) == [
        "time",
        "level",
        "logger",
        "request_id",
        "message",
        "route",
        "status",
    ]
    fields = json.loads(line)
    assert fields["message"] == "part of 3"
    assert (fields["level"], fields["logger"], fields["request_id"]) == (
        "WARNING",
        "movierec.tests",
        "-",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,250", fields["time"])
    assert "\n" not in line


def test_json_line_writes_what_json_cannot_hold_as_text() -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    fields = json.loads(
        _project_json_formatter().format(_record(at=when, path=Path("/x"), error=KeyError("k")))
    )

    assert (fields["at"], fields["path"], fields["error"]) == (
        "2026-12-01T14:00:00+00:00",
        "/x",
        "KeyError: 'k'",
    )


def test_json_line_carries_the_traceback_of_a_logged_exception() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.getLogger("movierec.tests").makeRecord(
            "movierec.tests", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )

    fields = json.loads(_project_json_formatter().format(record))

    assert fields["message"] == "failed"
    assert fields["exc_info"].startswith("Traceback (most recent call last):")
    assert fields["exc_info"].endswith("ValueError: broken")
