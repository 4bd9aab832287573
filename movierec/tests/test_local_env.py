"""A development checkout needs no environment: `make` writes `.env.local`, manage.py reads it.

Production is unchanged: gunicorn and the image never read the file, and an explicit
DJANGO_DEBUG (as every deployment and the deploy check set) turns the file off.
"""

from __future__ import annotations

import logging
import os
import pty
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from movierec.env import EnvError, load_local_env

ROOT = Path(__file__).resolve().parents[2]


# The image has no make (nor a development checkout): these describe a checkout.
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names and k != "CI"}


def test_if_the_environment_lacks_a_variable_then_the_file_supplies_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".env.local"
    path.write_text("# comment\n\nDJANGO_SECRET_KEY=from-file\nMOVIELENS_SOURCE = /data \n")
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.setenv("MOVIELENS_SOURCE", "/from/environment")

    applied = load_local_env(path)

    assert applied == ["DJANGO_SECRET_KEY"]
    assert os.environ["DJANGO_SECRET_KEY"] == "from-file"
    assert os.environ["MOVIELENS_SOURCE"] == "/from/environment"


def test_if_django_debug_is_set_in_the_environment_then_the_file_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".env.local"
    path.write_text("DJANGO_SECRET_KEY=from-file\n")
    monkeypatch.setenv("DJANGO_DEBUG", "0")
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)

    assert load_local_env(path) == []
    assert "DJANGO_SECRET_KEY" not in os.environ


def test_if_there_is_no_file_then_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    assert load_local_env(tmp_path / "missing") == []


def test_if_a_line_is_not_name_equals_value_then_the_error_names_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".env.local"
    path.write_text("DJANGO_DEBUG=1\nexport SECRET\n")
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    with pytest.raises(EnvError, match=r"\.env\.local, line 2: expected NAME=value"):
        load_local_env(path)


@pytest.mark.slow
@needs_make
def test_if_make_writes_the_local_env_then_manage_py_runs_in_debug_with_its_secret(
    tmp_path: Path,
) -> None:
    # The Makefile's own rule, run in an empty folder (so the checkout's file is left alone).
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    env = _env_without("DJANGO_DEBUG", "DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "DJANGO_TESTING")
    made = subprocess.run(
        ["make", "--no-print-directory", ".env.local", "PYTHON_BIN=" + sys.executable],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert made.stdout == (
        "wrote .env.local: DJANGO_DEBUG=1 and a random DJANGO_SECRET_KEY for local commands\n"
    )
    written = tmp_path / ".env.local"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    values = dict(
        line.split("=", 1) for line in written.read_text().splitlines() if not line.startswith("#")
    )
    assert values["DJANGO_DEBUG"] == "1"
    assert len(values["DJANGO_SECRET_KEY"]) >= 50

    # What manage.py does with it, on the project's settings.
    probe = (
        "import os, sys; sys.path.insert(0, sys.argv[1]);"
        "from movierec.env import load_local_env; load_local_env(sys.argv[2]);"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'movierec.settings';"
        "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT), str(written)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"True {values['DJANGO_SECRET_KEY']}\n"

    again = subprocess.run(
        ["make", "--no-print-directory", ".env.local"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.stdout == "make: '.env.local' is up to date.\n"


@needs_make
def test_if_make_help_runs_then_the_port_is_shown_as_a_number() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "help", "PORT=8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "$(PORT)" not in result.stdout
    assert "serve on http://127.0.0.1:8123 " in result.stdout


def _log_format(*, stderr_is_a_terminal: bool, **env: str) -> str:
    """settings.LOG_FORMAT and the console handler's formatter in a fresh interpreter."""
    probe = (
        "import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'movierec.settings';"
        "from django.conf import settings;"
        "print(settings.LOG_FORMAT, settings.LOGGING['handlers']['console']['formatter'])"
    )
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**_env_without("LOG_FORMAT"), "DJANGO_DEBUG": "1", **env},
            stdout=subprocess.PIPE,
            stderr=follower if stderr_is_a_terminal else subprocess.DEVNULL,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        os.close(follower)
        os.close(leader)
    return result.stdout.strip()


def test_if_logs_go_to_a_terminal_then_they_are_plain_lines() -> None:
    assert _log_format(stderr_is_a_terminal=True) == "plain plain"


def test_if_logs_go_to_a_pipe_or_file_then_they_are_json_lines() -> None:
    assert _log_format(stderr_is_a_terminal=False) == "json json"


def test_if_log_format_is_set_then_it_wins_over_the_terminal_check() -> None:
    assert _log_format(stderr_is_a_terminal=True, LOG_FORMAT="json") == "json json"
    assert _log_format(stderr_is_a_terminal=False, LOG_FORMAT="plain") == "plain plain"


def test_if_runserver_answers_a_4xx_then_only_the_access_line_logs_it() -> None:
    # runserver logs each request on "django.server" (4xx at WARNING, 5xx at ERROR); the
    # project's access line already has it, so that logger stays quiet.
    server = logging.getLogger("django.server")
    assert not server.isEnabledFor(logging.WARNING)
    assert not server.isEnabledFor(logging.ERROR)
    assert logging.getLogger("movierec.access").isEnabledFor(logging.INFO)
