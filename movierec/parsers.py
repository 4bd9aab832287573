"""Project wiring: the API's only request parser, JSON with a size limit.

What it refuses, so that nothing a client sends can reach a view half-decoded or crash the
renderer later (all in the API's error shape, see `movierec.exception_handler`):

- a body over ``API_MAX_BODY_BYTES``: 413 (also checked by `movierec.guards` before any read);
- a charset that is not one of `CHARSETS` (an unknown name, or a codec such as rot13, base64
  or unicode_escape that is not a plain text encoding): 415;
- bytes that are not text in that charset, malformed JSON, NaN/Infinity: 400 ``parse_error``;
- arrays/objects nested deeper than `MAX_DEPTH` (the stdlib parser would recurse until a
  RecursionError): 400 ``parse_error``;
- a lone UTF-16 surrogate (``"\\ud800"`` without its pair) anywhere, key or value: 400
  ``parse_error``. Such a string cannot be encoded as UTF-8, so echoing it in a validation
  message would break rendering the answer.
"""

from __future__ import annotations

import codecs
import functools
import json
import re
from typing import Any

from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

# Codec names as `codecs.lookup(name).name` spells them. JSON is UTF-8 (RFC 8259); UTF-16/32
# were allowed by RFC 7159, ASCII and Latin-1 are what old clients declare.
CHARSETS = frozenset(
    {
        "utf-8",
        "utf-16",
        "utf-16-le",
        "utf-16-be",
        "utf-32",
        "utf-32-le",
        "utf-32-be",
        "ascii",
        "iso8859-1",
    }
)
# The API takes flat objects; 32 levels leave room for any client library's envelope.
MAX_DEPTH = 32

_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "request_too_large"


def too_large_message(limit: int) -> str:
    return f"Request body is larger than {limit} bytes."


class BoundedJSONParser(JSONParser):
    """JSON bodies of at most ``API_MAX_BODY_BYTES``; larger ones are a 413, not a slow read."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit: int = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise RequestTooLarge(too_large_message(limit))
        encoding = _charset(media_type)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(too_large_message(limit))
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        except RecursionError:  # a backstop: _depth() counts every bracket of valid JSON
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        if _ESCAPED_SURROGATE.search(text) and _holds_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds a lone UTF-16 surrogate (a \\ud800-\\udfff "
                "escape without its pair), which is not text."
            )
        return data


def _charset(media_type: str | None) -> str:
    """The body's codec: the declared charset if it is one of CHARSETS, else a 415."""
    if not media_type or "charset" not in media_type.lower():
        return "utf-8"
    declared, name = _declared_charset(media_type)
    if declared is None:
        return "utf-8"
    if name is None:
        shown = declared if len(declared) <= 40 else declared[:40] + "..."
        raise UnsupportedMediaType(
            media_type,
            detail=f'Unsupported charset "{shown}" in request: send UTF-8.',
            code="unsupported_charset",
        )
    return name


@functools.lru_cache(maxsize=64)
def _declared_charset(media_type: str) -> tuple[str | None, str | None]:
    """(the charset as declared, its codec name if one of CHARSETS). Clients send the same
    few Content-Type headers over and over, and parsing one costs tens of microseconds."""
    _, params = parse_header_parameters(media_type)
    declared = params.get("charset")
    if declared is None:
        return None, None
    try:
        name = codecs.lookup(declared).name
    except (LookupError, ValueError):
        return declared, None
    return declared, name if name in CHARSETS else None


def _depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings skipped)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _holds_surrogate(data: Any) -> bool:
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _reject_constant(name: str) -> None:
    # NaN and Infinity are not JSON; Python's parser accepts them by default.
    raise ValueError(f"{name} is not valid JSON")
