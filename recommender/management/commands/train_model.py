"""recommender: `manage.py train_model`: fit, evaluate, register, activate through the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from movierec.errors import ApplicationError
from recommender import registry
from recommender.ml.reporting import comparison_table, warm_table
from recommender.reports import version_report_write
from recommender.services import evaluation_report, model_train, warm_report


class Command(BaseCommand):
    help = "Train a model on the ratings in the database; activate it if it passes the gate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seed", type=int, default=42, help="fold split and fit seed (default 42)"
        )
        parser.add_argument(
            "--no-activate", action="store_true", help="record the version, do not serve it"
        )
        parser.add_argument(
            "--report",
            action="store_true",
            help="print candidate vs champion vs baselines, and write it with charts as HTML",
        )
        parser.add_argument(
            "--report-dir",
            type=Path,
            default=settings.BASE_DIR / "var" / "reports",
            help="folder of the HTML report, gate-v<N>.html (default var/reports)",
        )
        parser.add_argument(
            "--if-stale",
            action="store_true",
            help="skip if the active version was trained on this data",
        )
        parser.add_argument(
            "--no-feedback",
            action="store_true",
            help="train on the MovieLens raters only, leaving out POST /api/feedback people",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            outcome = model_train(
                seed=options["seed"],
                activate=not options["no_activate"],
                if_stale=options["if_stale"],
                feedback=not options["no_feedback"],
                progress=self._progress,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        version = outcome.version
        if outcome.skipped:
            self.stdout.write(
                f"version {version.version} is active and was trained on this data: nothing to do"
            )
            return
        if options["report"]:
            champion = evaluation_report(outcome.champion) if outcome.champion else None
            table = comparison_table(
                evaluation_report(version),
                champion=champion,
                reference=registry.reference_figures(),
            )
            self.stdout.write(table)
            warm = warm_report(version)
            if warm is not None:
                rival = warm_report(outcome.champion) if outcome.champion else None
                self.stdout.write(warm_table(warm, champion=rival))
            path = version_report_write(
                version=version, champion=outcome.champion, directory=options["report_dir"]
            )
            self.stdout.write(f"report: {path}")
        for reason in outcome.gate["reasons"]:
            self.stdout.write(f"  gate: {reason}")
        data = version.metrics.get("training_data", {})
        if data:
            self.stdout.write(
                f"  data: {data['movielens_raters']} MovieLens raters, "
                f"{data['feedback_people']} feedback people ({data['feedback_ratings']} ratings)"
            )
        previous = outcome.champion
        # A candidate for `make gate` (--no-activate) is a deliberate repeat; say it otherwise.
        if (
            not options["no_activate"]
            and previous is not None
            and previous.data_fingerprint == version.data_fingerprint
            and previous.params == version.params
            and previous.seed == version.seed
        ):
            same = (
                "an identical artifact"
                if previous.artifact_sha256 == version.artifact_sha256
                else "the same inputs"
            )
            self.stdout.write(
                f"note: version {version.version} repeats version {previous.version} ({same}: "
                "same data, parameters and seed); `train_model --if-stale` (what `make train` "
                "runs) skips training in that case"
            )
        report = evaluation_report(version)
        like = report.baselines["popularity_likes"].ndcg_at_k
        state = (
            "activated"
            if outcome.activated
            else ("passes the gate" if outcome.gate["passed"] else "REFUSED")
        )
        self.stdout.write(
            f"version {version.version} {state}: NDCG@10 {report.ndcg:.4f} "
            f"(like-popularity {like:.4f}), P@10 {report.precision:.4f}, "
            f"trained and evaluated in {version.train_seconds:.1f} s"
        )
        if not outcome.gate["passed"]:
            raise CommandError(f"the gate refused version {version.version}")

    def _progress(self, message: str) -> None:
        self.stderr.write(f"train_model: {message}")
