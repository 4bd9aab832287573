"""recommender: `manage.py evaluate_model` — a stored version's evaluation as JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recommender.models import ModelVersion
from recommender.services import model_evaluate


class Command(BaseCommand):
    help = "Print the stored evaluation of a model version (default: the active one) as JSON."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Our --version names a model version; it replaces Django's own --version flag.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--version", type=int, dest="model_version", help="version number")

    def handle(self, *args: Any, **options: Any) -> None:
        version = options["model_version"]
        try:
            evaluation = model_evaluate(version=version)
        except ModelVersion.DoesNotExist:
            which = f"no version {version}" if version is not None else "no active version"
            raise CommandError(f"there is {which}: list them in the admin or train one") from None
        self.stdout.write(json.dumps(evaluation, indent=2, sort_keys=True))
