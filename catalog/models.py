"""catalog: models."""
