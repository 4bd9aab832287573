"""Project wiring: the request id every log line carries (contextvar + logging filter)."""

from __future__ import annotations

import logging
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, so JSON logs of one request can be joined."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class PlainFormatter(logging.Formatter):
    """One readable line for a terminal: the format string, then the ``extra=`` fields as
    ``key=value`` (so the access line shows method, route, status and duration)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = " ".join(
            f"{key}={value}" for key, value in vars(record).items() if key not in _STANDARD
        )
        if not extras:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the line
        return f"{head} {extras}{newline}{rest}"
