"""recommender: request fields that name movies and genres, with the API's strict JSON rules.

``MovieRefListField`` is the one rule for naming movies in a request (``exclude``, and any
other list of movies): each item is an exact title, as the API returns titles, or a
MovieLens id; a title the catalogue lists twice names both movies. Every item that names
no movie is reported (400), never ignored.
"""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recommender.ml.features import GENRES

# Bad values are quoted back in error messages; an over-long one is cut to this length.
_ECHO_LENGTH = 80


def _echo(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _ECHO_LENGTH else f"{text[: _ECHO_LENGTH - 1]}…"


def _check_list(field: serializers.Field, data: Any, max_length: int) -> list[Any]:
    if not isinstance(data, list):
        field.fail("not_a_list", input_type=type(data).__name__)
    if len(data) > max_length:
        field.fail("max_length", max_length=max_length)
    return data


class MovieRefListField(serializers.Field):
    """A JSON list of movie titles (strings) or MovieLens ids (integers).

    Validates to a tuple of catalogue movie ids (database keys), in request order, each
    once. Resolved against the catalogue of the model that serves (held in memory, no
    query); raises ModelNotReady (503) when there is none.
    """

    default_error_messages = {
        "not_a_list": 'Expected a list of titles or MovieLens ids but got type "{input_type}".',
        "max_length": "Ensure this field has no more than {max_length} elements.",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> tuple[int, ...]:
        from recommender import registry

        items = _check_list(self, data, self.max_length)
        wrong = [
            f"{_echo(item)} is not a title (string) or a MovieLens id (integer)."
            for item in items
            if isinstance(item, bool) or not isinstance(item, str | int)
        ]
        if wrong:
            raise serializers.ValidationError(wrong)
        movie_ids, unknown = registry.active_model().movies.resolve(items)
        if unknown:
            raise serializers.ValidationError(
                [
                    f"{_echo(ref)} is not a title in the catalogue."
                    if isinstance(ref, str)
                    else f"{ref} is not a MovieLens id in the catalogue."
                    for ref in unknown
                ]
            )
        return movie_ids

    def to_representation(self, value: Any) -> Any:
        return list(value)


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "enum": list(GENRES)}, "maxItems": len(GENRES)}
)
class GenreListField(serializers.Field):
    """A JSON list of ml-100k genre names (case-sensitive); validates to a frozenset."""

    default_error_messages = {
        "not_a_list": 'Expected a list of genre names but got type "{input_type}".',
        "max_length": "Ensure this field has no more than {max_length} elements.",
    }

    def to_internal_value(self, data: Any) -> frozenset[str]:
        items = _check_list(self, data, len(GENRES))
        bad = [item for item in items if not isinstance(item, str) or item not in GENRES]
        if bad:
            raise serializers.ValidationError(
                [f"{_echo(item)} is not an ml-100k genre." for item in bad]
            )
        return frozenset(items)

    def to_representation(self, value: Any) -> Any:
        return sorted(value)


class MovieRefListFieldSchema(OpenApiSerializerFieldExtension):
    """OpenAPI for MovieRefListField: its item types and this field's maxItems."""

    target_class = MovieRefListField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "array",
            "maxItems": self.target.max_length,
            "items": {
                "oneOf": [
                    {"type": "string", "description": "An exact title, as the API returns it."},
                    {"type": "integer", "description": "A MovieLens id."},
                ]
            },
        }


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false: "true", 1 and null are refused."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
