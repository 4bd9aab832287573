"""accounts: `manage.py revoke_api_key PREFIX`; tokens issued for the key stop working at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from accounts.selectors import api_key_get_by_prefix
from accounts.services import api_key_revoke
from movierec.errors import ApplicationError


class Command(BaseCommand):
    help = "Revoke the API key with this prefix (cannot be undone)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix", help="The key's public prefix (the part before the dot).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            api_key = api_key_get_by_prefix(prefix=options["prefix"])
            api_key_revoke(api_key=api_key)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database is unavailable, nothing was revoked: {exc}") from exc
        self.stdout.write(f"Revoked API key {api_key.name!r} (prefix {api_key.prefix}).")
