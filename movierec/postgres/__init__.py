"""Project wiring: Django's PostgreSQL backend with bounded waits (see `movierec.postgres.base`)."""
