"""`manage.py ingest_movielens`: one smoke test per outcome; the service tests cover the rest."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import OutputWrapper

from catalog.management.commands.ingest_movielens import Progress
from catalog.models import Movie, Rating
from catalog.tests.helpers import catalogue_snapshot, make_zip, md5_of

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def test_ingest_prints_progress_lines_and_a_one_line_summary(movielens_tiny: Path) -> None:
    out = io.StringIO()
    call_command("ingest_movielens", "--source", str(movielens_tiny), stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[-1] == (
        f"Ingested {movielens_tiny}: genres 6 created, 0 updated, 0 unchanged; "
        "movies 10 created, 0 updated, 0 unchanged; raters 8 created, 0 updated, 0 unchanged; "
        "ratings 30 created, 0 updated, 0 unchanged; 0 rows not in the source left alone."
    )
    # Not a terminal: plain lines, no carriage returns.
    assert "ratings: 30/30 done" in lines
    assert "\r" not in out.getvalue()
    assert Rating.objects.count() == 30


def test_default_source_is_the_movielens_source_setting(
    movielens_tiny: Path, settings: Any
) -> None:
    settings.MOVIELENS_SOURCE = str(movielens_tiny)
    out = io.StringIO()
    call_command("ingest_movielens", stdout=out)
    assert out.getvalue().splitlines()[-1].startswith(f"Ingested {movielens_tiny}: genres 6")


def test_malformed_source_is_a_command_error_naming_file_and_line(tiny_copy: Path) -> None:
    data = tiny_copy / "u.data"
    data.write_text(data.read_text() + "1\t1\t7\t881250949\n")
    with pytest.raises(CommandError) as caught:
        call_command("ingest_movielens", "--source", str(tiny_copy), stdout=io.StringIO())
    assert str(caught.value) == f"{data}, line 31: rating 7 is outside 1-5"
    assert Movie.objects.count() == 0


def test_checksum_option_is_applied(movielens_tiny: Path, tmp_path: Path) -> None:
    archive = make_zip(movielens_tiny, tmp_path / "ml-100k.zip")
    before = catalogue_snapshot()
    with pytest.raises(CommandError, match=f"MD5 is {md5_of(archive)}, expected f+$"):
        call_command(
            "ingest_movielens", "--source", str(archive), "--md5", "f" * 32, stdout=io.StringIO()
        )
    assert catalogue_snapshot() == before

    call_command(
        "ingest_movielens", "--source", str(archive), "--md5", md5_of(archive), stdout=io.StringIO()
    )
    assert Movie.objects.count() == 10


def test_failure_exits_non_zero_from_the_shell(tmp_path: Path) -> None:
    # A real process, for the exit status; it fails before it touches any database.
    result = subprocess.run(
        [sys.executable, "manage.py", "ingest_movielens", "--source", str(tmp_path / "nope")],
        cwd=REPO,
        env={**os.environ, "DJANGO_TESTING": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"CommandError: {tmp_path / 'nope'}: no such folder or zip"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal() -> None:
    terminal = FakeTerminal()
    progress = Progress(OutputWrapper(terminal))
    progress("ratings", 0, 100)
    progress("ratings", 100, 100)
    progress("download", 512, None)
    progress.close()
    assert terminal.getvalue() == (
        f"\rratings    [{'-' * 30}] 0/100\rratings    [{'#' * 30}] 100/100\n\rdownload   512\n"
    )
