"""recommender: a model version's evaluation report as HTML, for admin and for `make gate`.

The tables and charts are built by the Django-free ``recommender.ml.reporting``; this module
picks the versions to compare and formats their facts.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.utils import timezone

from recommender import registry
from recommender.ml import reporting
from recommender.ml.evaluation import EvaluationReport
from recommender.models import ModelVersion


def version_state(version: ModelVersion) -> str:
    """ "active", "passed gate", "refused" or "not judged" (a version stored without a gate)."""
    if version.is_active:
        return "active"
    if not version.gate:
        return "not judged"
    return "passed gate" if version.gate.get("passed") else "refused"


def _report(version: ModelVersion) -> EvaluationReport | None:
    try:
        return EvaluationReport.from_dict(version.metrics)
    except (KeyError, TypeError, ValueError):
        return None  # a version whose stored evaluation predates the current format


def version_report_fragment(*, version: ModelVersion, champion: ModelVersion | None) -> str:
    """The report of ``version`` against ``champion`` (None, or the version itself: no
    champion column) as an HTML fragment; an explanation when the metrics can't be read."""
    candidate = _report(version)
    if candidate is None:
        return (
            '<p class="mr-report">This version\'s stored evaluation cannot be read as a report '
            "(it was written by an older format). Its raw figures are below.</p>"
        )
    other = champion if champion is not None and champion.pk != version.pk else None
    champion_report = _report(other) if other is not None else None
    created = timezone.localtime(version.created_at)
    facts = [
        ("Version", f"v{version.version} ({version_state(version)})"),
        ("Created", created.strftime("%Y-%m-%d %H:%M %Z")),
        ("Trained and evaluated in", f"{version.train_seconds:.1f} s"),
        (
            "Evaluation",
            f"{candidate.n_folds} folds, {candidate.n_raters_evaluated:,} held-out raters, "
            f"top {candidate.k}, seed {candidate.seed}",
        ),
        ("Data fingerprint", version.data_fingerprint[:16]),
        ("Parameters", json.dumps(version.params, sort_keys=True)),
    ]
    if other is not None:
        facts.append(("Champion", f"v{other.version} (the version serving now)"))
    elif version.is_active:
        facts.append(("Champion", "this version is the one serving"))
    return reporting.report_fragment(
        candidate,
        gate=dict(version.gate),
        champion=champion_report,
        champion_name=f"champion v{other.version}" if other is not None else "champion",
        reference=registry.reference_figures(),
        facts=facts,
    )


def version_report_document(*, version: ModelVersion, champion: ModelVersion | None) -> str:
    """The same report as one self-contained HTML document."""
    return reporting.report_document(
        f"movierec model v{version.version}: evaluation and gate",
        version_report_fragment(version=version, champion=champion),
    )


def version_report_write(
    *, version: ModelVersion, champion: ModelVersion | None, directory: Path
) -> Path:
    """Write ``gate-v<N>.html`` into ``directory`` (created if needed); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"gate-v{version.version}.html"
    path.write_text(version_report_document(version=version, champion=champion), "utf-8")
    return path
