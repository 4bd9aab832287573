"""accounts: domain errors (Django-free); `movierec.exception_handler` maps them to HTTP."""

from __future__ import annotations

from movierec.errors import ApplicationError


class InvalidApiKey(ApplicationError):
    """A wrong, revoked or expired key. One message for all three, so an attacker learns nothing."""

    status = 401
    code = "invalid_key"

    def __init__(self, message: str = "Invalid, revoked or expired API key.") -> None:
        super().__init__(message)


class ApiKeyNotFound(ApplicationError):
    status = 404
    code = "not_found"


class ApiKeyAlreadyRevoked(ApplicationError):
    status = 409
    code = "already_revoked"


class ApiKeyInvalidInput(ApplicationError):
    """A name or expiry a key cannot be created or saved with."""

    status = 400
    code = "invalid"
