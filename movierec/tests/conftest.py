"""movierec test fixtures: the recommender's synthetic catalogue and trained model, reused."""

from __future__ import annotations

# Fixtures are looked up by name: importing them makes them available to this package.
from recommender.tests.conftest import (  # noqa: F401
    _fresh_registry_state,
    catalogue,
    trained,
)
