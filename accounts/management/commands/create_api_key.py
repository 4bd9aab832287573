"""accounts: `manage.py create_api_key NAME [--expires-in DAYS]`; the key alone on the last line."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.services import api_key_create
from movierec.errors import ApplicationError


def _positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 day, not {days}")
    return days


class Command(BaseCommand):
    help = "Create an API key and print it (once: only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A label for the key (at most 50 characters).")
        parser.add_argument(
            "--expires-in", type=_positive_days, metavar="DAYS", help="Expire after DAYS days."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days: int | None = options["expires_in"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            api_key, raw_key = api_key_create(name=options["name"], expires_at=expires_at)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        expiry = f"expires {api_key.expiry_date:%Y-%m-%d %H:%M %Z}" if days else "never expires"
        self.stdout.write(f"Created API key {api_key.name!r} (prefix {api_key.prefix}, {expiry}).")
        self.stdout.write("Store it now, it will not be shown again:")
        self.stdout.write(raw_key)
