"""accounts: HTTP. POST /api/authenticate exchanges an API key for a bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from accounts.services import token_obtain_for_key
from accounts.throttling import AuthenticateRateThrottle
from movierec.guards import PostOnlyAPIView
from movierec.schema import error_responses

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans, lists and objects instead of coercing them.

    Any string is accepted as is, NUL included (DRF refuses it with a 400 by default; lone
    surrogates never get this far, the parser refuses them): the schema promises "a string",
    and a string that cannot be a key is a wrong key, answered 401 by the service.
    """

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONObjectSerializer(serializers.Serializer):
    """A serializer whose input must be a JSON object; anything else is a 400 saying so."""

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data is not serializers.empty and not isinstance(data, Mapping):
            kind = "null" if data is None else _JSON_TYPES.get(type(data), type(data).__name__)
            raise serializers.ValidationError(
                {"non_field_errors": [f"Expected a JSON object, but got {kind}."]}, code="invalid"
            )
        return super().run_validation(data)


class AuthenticateView(PostOnlyAPIView):
    """Exchange an API key for a short-lived bearer token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthenticateRateThrottle]

    @extend_schema_serializer(component_name="Authenticate")
    class InputSerializer(JSONObjectSerializer):
        """The API key as issued (``<prefix>.<secret>``)."""

        # Keys never hold whitespace: no trimming, so " key" is a wrong key, not the key.
        key = StrictCharField(trim_whitespace=False, allow_blank=True)

    @extend_schema_serializer(component_name="AuthenticateResponse")
    class OutputSerializer(serializers.Serializer):
        """A bearer token: send it as ``Authorization: Bearer <token>``."""

        token = serializers.CharField()
        token_type = serializers.CharField()
        expires_in = serializers.IntegerField(help_text="Seconds until the token expires.")

    @extend_schema(
        operation_id="authenticate",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="A bearer token for the key."),
            **error_responses(400, 401, 405, 411, 413, 415, 429),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issued = token_obtain_for_key(raw_key=data.validated_data["key"])
        body = {"token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in}
        # A bearer token is a credential: no cache on the way may keep it (RFC 6749 section 5.1).
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        output = self.OutputSerializer(body).data
        return Response(output, status=status.HTTP_200_OK, headers=headers)
