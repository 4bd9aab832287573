"""accounts: HTTP. POST /api/authenticate exchanges an API key for a bearer token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import token_obtain_for_key
from accounts.throttling import AuthenticateRateThrottle

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers, booleans, lists and objects instead of coercing them."""

    default_error_messages = {"invalid": "Must be a string."}

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


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ValidationErrorSerializer(ErrorSerializer):
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class AuthenticateView(APIView):
    """Exchange an API key for a short-lived bearer token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthenticateRateThrottle]
    # Only POST: GET and OPTIONS are 405 with `Allow: POST`.
    http_method_names = ["post"]

    class InputSerializer(JSONObjectSerializer):
        # Keys never hold whitespace: no trimming, so " key" is a wrong key, not the key.
        key = StrictCharField(trim_whitespace=False, allow_blank=True)

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        token_type = serializers.CharField()
        expires_in = serializers.IntegerField(help_text="Seconds until the token expires.")

    @extend_schema(
        operation_id="authenticate",
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(ValidationErrorSerializer, description="Malformed body."),
            401: OpenApiResponse(ErrorSerializer, description="Wrong, revoked or expired key."),
            413: OpenApiResponse(ErrorSerializer, description="Body too large."),
            415: OpenApiResponse(ErrorSerializer, description="Not JSON."),
            429: OpenApiResponse(ErrorSerializer, description="Too many attempts (Retry-After)."),
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
