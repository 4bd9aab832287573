"""Boundary test: the ML core imports without Django."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Every module of the ML core, found on disk, so a new one is covered without editing this.
CHECK = (
    "import importlib, pkgutil, sys, recommender.ml as ml; "
    "names = [m.name for m in pkgutil.iter_modules(ml.__path__, 'recommender.ml.')]; "
    "[importlib.import_module(n) for n in names]; "
    "assert len(names) >= 7, names; "
    "assert 'django' not in sys.modules, 'django was imported'"
)


def test_if_ml_modules_are_imported_then_django_is_not() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_profile_vocabulary_matches_the_catalogue_choices() -> None:
    # catalog never imports recommender, so each keeps its own copy of the MovieLens
    # vocabulary; this keeps the two from drifting apart.
    from catalog.models import Gender, Occupation
    from recommender.ml.profile import GENDERS, OCCUPATIONS

    assert tuple(Occupation.values) == OCCUPATIONS
    assert tuple(Gender.values) == GENDERS
