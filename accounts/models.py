"""accounts: models."""
