"""Project wiring: the base of every domain error (imports neither Django nor DRF).

Services raise subclasses; `movierec.exception_handler` is the one place they become HTTP.
"""

from __future__ import annotations


class ApplicationError(Exception):
    """A failure the client or operator can act on.

    ``code`` is a stable machine-readable string; ``status`` the HTTP status the API answers with.
    """

    status: int = 400
    code: str = "error"

    def __init__(
        self, message: str, *, code: str | None = None, extra: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}
