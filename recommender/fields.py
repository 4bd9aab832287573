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


class MovieRatingListField(serializers.Field):
    """A JSON list of ``{"movie": title or MovieLens id, "rating": 1-5}`` objects.

    Movies are named as in MovieRefListField (a title the catalogue lists twice names its
    first movie here: one rating is one opinion). Validates to a list of (catalogue movie
    id, stars); every bad item is reported, as "Item N: ...".
    """

    default_error_messages = {
        "not_a_list": 'Expected a list of ratings but got type "{input_type}".',
        "max_length": "Ensure this field has no more than {max_length} elements.",
        "empty": "Send at least one rating.",
    }

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[tuple[int, int]]:
        from recommender import registry

        items = _check_list(self, data, self.max_length)
        if not items:
            self.fail("empty")
        index = None
        errors: list[str] = []
        resolved: list[tuple[int, int]] = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict) or set(item) != {"movie", "rating"}:
                errors.append(f'Item {number}: expected {{"movie": ..., "rating": 1-5}}.')
                continue
            movie, stars = item["movie"], item["rating"]
            if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
                errors.append(f"Item {number}: rating must be an integer from 1 to 5.")
            if isinstance(movie, bool) or not isinstance(movie, str | int):
                errors.append(
                    f"Item {number}: {_echo(movie)} is not a title (string) or a MovieLens "
                    "id (integer)."
                )
                continue
            index = index or registry.active_model().movies
            movie_ids, _ = index.resolve([movie])
            if not movie_ids:
                errors.append(
                    f"Item {number}: "
                    + (
                        f"{_echo(movie)} is not a title in the catalogue."
                        if isinstance(movie, str)
                        else f"{movie} is not a MovieLens id in the catalogue."
                    )
                )
                continue
            resolved.append((movie_ids[0], stars))
        if errors:
            raise serializers.ValidationError(errors)
        return resolved

    def to_representation(self, value: Any) -> Any:
        return [{"movie": movie, "rating": stars} for movie, stars in value]


class MovieRatingListFieldSchema(OpenApiSerializerFieldExtension):
    target_class = MovieRatingListField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            "type": "array",
            "minItems": 1,
            "maxItems": self.target.max_length,
            "items": {
                "type": "object",
                "required": ["movie", "rating"],
                "additionalProperties": False,
                "properties": {
                    "movie": {
                        "oneOf": [
                            {"type": "string", "description": "An exact title."},
                            {"type": "integer", "description": "A MovieLens id."},
                        ]
                    },
                    "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                },
            },
        }


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


class ClientRefField(serializers.CharField):
    """An opaque id a client picks for one person: 1-64 printable ASCII characters, no
    spaces (never an e-mail address or a name)."""

    default_error_messages = {
        "invalid": "Must be 1-64 printable ASCII characters without spaces (an opaque id).",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, min_length=1, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = str(super().to_internal_value(data))
        if not value.isascii() or not all("!" <= ch <= "~" for ch in value):
            self.fail("invalid")
        return value


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false: "true", 1 and null are refused."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
