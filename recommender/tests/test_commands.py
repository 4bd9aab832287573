"""train_model and evaluate_model: thin commands over the services."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from recommender.models import ModelVersion

pytestmark = pytest.mark.django_db


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_train_model_activates_and_prints_summary(catalogue: None) -> None:
    out, err = _run("train_model", "--seed", "42")
    assert "train_model: fold 5/5" in err
    last = out.strip().splitlines()[-1]
    assert last.startswith("version 1 activated: NDCG@10 ")
    assert ModelVersion.objects.get().is_active


def test_train_model_report_prints_side_by_side_table(
    trained: ModelVersion, settings: Any, tmp_path: Any
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"data_fingerprint": trained.data_fingerprint, "metrics": {"ndcg_at_10": 0.5}})
    )
    settings.RECOMMENDER_BASELINE_FILE = baseline
    out, _ = _run("train_model", "--no-activate", "--report", "--report-dir", str(tmp_path))
    header = out.splitlines()[0].split()
    assert header == ["metric", "candidate", "champion", "committed", "pop-likes", "pop-count"]
    assert out.splitlines()[1].split()[3] == "0.5000"
    assert any(line.startswith("NDCG gender:F") for line in out.splitlines())
    assert out.strip().splitlines()[-1].startswith("version 2 passes the gate: ")
    # The same comparison as one self-contained HTML file: tables and both charts inline.
    report = tmp_path / "gate-v2.html"
    assert f"report: {report}" in out.splitlines()
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg ") == 2
    assert "<td>committed</td>" not in page
    assert "<th>committed</th>" in page
    assert not any(tag in page for tag in ("<script", "<link", "src=", "@import"))
    assert ModelVersion.objects.get(is_active=True).version == 1


def test_train_model_exits_non_zero_when_gate_refuses(catalogue: None, settings: Any) -> None:
    settings.RECOMMENDER_GATE_MARGIN = 1.0
    with pytest.raises(CommandError, match="the gate refused version 1"):
        _run("train_model")
    assert not ModelVersion.objects.filter(is_active=True).exists()


def test_train_model_without_data_exits_non_zero(db: None) -> None:
    with pytest.raises(CommandError, match="There are no ratings to train on"):
        _run("train_model")


def test_train_model_if_stale_skips_when_current(trained: ModelVersion) -> None:
    out, _ = _run("train_model", "--if-stale")
    assert out.strip() == "version 1 is active and was trained on this data: nothing to do"
    assert ModelVersion.objects.count() == 1


def test_evaluate_model_prints_stored_evaluation_as_json(trained: ModelVersion) -> None:
    out, _ = _run("evaluate_model", "--version", "1")
    data = json.loads(out)
    assert data["version"] == 1
    assert data["evaluation"] == trained.metrics
    assert json.loads(_run("evaluate_model")[0])["version"] == 1


def test_evaluate_model_unknown_version_exits_non_zero(trained: ModelVersion) -> None:
    with pytest.raises(CommandError, match="there is no version 9"):
        _run("evaluate_model", "--version", "9")


def test_if_train_model_repeats_the_active_version_then_it_says_so(
    trained: ModelVersion,
) -> None:
    out, _ = _run("train_model", "--seed", str(trained.seed))
    lines = out.strip().splitlines()
    assert lines[-2] == (
        "note: version 2 repeats version 1 (an identical artifact: same data, parameters and "
        "seed); `train_model --if-stale` (what `make train` runs) skips training in that case"
    )
    assert lines[-1].startswith("version 2 activated: ")


def test_if_the_seed_differs_then_train_model_prints_no_repeat_note(
    trained: ModelVersion,
) -> None:
    out, _ = _run("train_model", "--seed", str(trained.seed + 1))
    assert "repeats" not in out


def test_if_no_version_is_active_then_evaluate_model_says_so(db: None) -> None:
    with pytest.raises(CommandError) as raised:
        _run("evaluate_model")
    assert str(raised.value) == "there is no active version: list them in the admin or train one"
