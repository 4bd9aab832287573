"""catalog: the `ingest_movielens` command. Thin: parse options, call one service, summarise."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from catalog.errors import IngestError
from catalog.services import DEFAULT, movielens_ingest


class Command(BaseCommand):
    help = "Load MovieLens ml-100k (a folder, the zip, or a URL) into the catalogue, idempotently."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            default=None,
            help="an ml-100k folder, ml-100k.zip, or an http(s) URL (default: MOVIELENS_SOURCE)",
        )
        parser.add_argument(
            "--md5",
            default=None,
            help="expected MD5 of the zip or download (default: the "
            "published MD5 for the official URL, none otherwise)",
        )

    def handle(self, *args: Any, source: str | None, md5: str | None, **options: Any) -> None:
        progress = Progress(self.stdout)
        try:
            report = movielens_ingest(
                source=source or settings.MOVIELENS_SOURCE,
                md5=md5 if md5 is not None else DEFAULT,
                progress=progress,
            )
        except IngestError as exc:
            progress.close()
            raise CommandError(exc.message) from exc
        progress.close()
        self.stdout.write(report.summary())


class Progress:
    """A bar redrawn in place on a terminal; a line per step start and end otherwise (logs, CI)."""

    WIDTH = 30

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.tty = out.isatty()
        self.step: str | None = None
        self.drawn = 0.0

    def __call__(self, step: str, done: int, total: int | None) -> None:
        if step != self.step:
            self.close()
            self.step = step
            self.drawn = 0.0
            if not self.tty:
                self.out.write(f"{step}...")
        finished = done == total
        if not self.tty:
            if finished:
                self.out.write(f"{step}: {done}/{total} done")
            return
        if finished or time.monotonic() - self.drawn > 0.1:
            self.drawn = time.monotonic()
            if total:
                filled = self.WIDTH * done // total
                bar = "#" * filled + "-" * (self.WIDTH - filled)
                self.out.write(f"\r{step:<10} [{bar}] {done}/{total}", ending="")
            else:
                self.out.write(f"\r{step:<10} {done}", ending="")
            self.out.flush()

    def close(self) -> None:
        if self.step is not None and self.tty:
            self.out.write("")
        self.step = None
