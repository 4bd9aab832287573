"""Project wiring: OpenAPI descriptions of the one error-body shape every endpoint uses."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    # Describes the body's "errors" key; this serializer never validates anything, so
    # shadowing Serializer.errors is harmless.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        # Absent when the body is not JSON at all (`parse_error`): there are no fields to name.
        required=False,
        help_text=(
            "Field name -> messages; `non_field_errors` when the body is not an object. "
            "Absent when the body is not valid JSON (code `parse_error`)."
        ),
    )


_DESCRIPTIONS = {
    400: (
        "Invalid input: malformed or too deeply nested JSON, a lone surrogate, a non-object "
        "body or a field error.",
        ValidationErrorSerializer,
    ),
    401: ("Missing, invalid, expired or revoked credentials.", ErrorSerializer),
    404: ("Not found.", ErrorSerializer),
    405: ("Method not allowed.", ErrorSerializer),
    411: ("A transfer coding other than chunked: send a Content-Length.", ErrorSerializer),
    413: ("Request body too large.", ErrorSerializer),
    415: ("Unsupported media type or charset: send UTF-8 application/json.", ErrorSerializer),
    429: (
        "Too many requests (retry after `Retry-After` seconds) or a limit reached.",
        ErrorSerializer,
    ),
    503: ("No model version can serve yet.", ErrorSerializer),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The documented error responses for ``codes``, for `extend_schema(responses=...)`."""
    return {
        code: OpenApiResponse(response=_DESCRIPTIONS[code][1], description=_DESCRIPTIONS[code][0])
        for code in codes
    }


class BearerJWTScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <token>` for every protected endpoint."""

    target_class = "accounts.authentication.ApiKeyJWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from POST /api/authenticate.",
        }
