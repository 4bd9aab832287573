"""recommender: `manage.py purge_feedback` — enforce the feedback retention (run it from cron)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from recommender.services import feedback_purge


class Command(BaseCommand):
    help = (
        "Delete the feedback people (and their ratings) whose last rating is older than "
        "FEEDBACK_RETENTION_DAYS days (or --days)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override the retention")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.FEEDBACK_RETENTION_DAYS
        deleted = feedback_purge(older_than_days=days)
        self.stdout.write(f"deleted {deleted} feedback people last rated over {days} days ago")
