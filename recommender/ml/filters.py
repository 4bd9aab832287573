"""Filter layer (Django-free): which catalogue movies a request allows.

Masks are built once per loaded catalogue (one boolean column per genre, one release year
per movie) and combined per request in a few microseconds; the ranking with filters is the
default ranking with the disallowed movies removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from recommender.ml.profile import Profile

# ml-100k has no content ratings and 3 raters under 13, so the model cannot know what
# suits a child; their default list leaves these genres out.
CHILD_AGE_LIMIT = 13
CHILD_EXCLUDED_GENRES: tuple[str, ...] = ("Crime", "Film-Noir", "Horror", "Thriller", "War")
# Release year of a movie without a date.
NO_YEAR = 0
_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")


def release_year(title: str, release_date_year: int | None) -> int | None:
    """The year a title names ("Return of the Jedi (1983)" -> 1983), else the year of its
    release date, else None. ml-100k's dates are often a later re-release (that film's is
    1997), while the title's year is the one people know and see in every answer."""
    match = _TITLE_YEAR.search(title)
    if match is not None:
        return int(match.group(1))
    return release_date_year


@dataclass(frozen=True)
class Filters:
    """A normalised set of filters; hashable, so it can key an answer cache.

    ``exclude`` holds catalogue movie ids. An empty ``genres`` means "any genre". A year
    bound of None is open; with either bound given, movies without a date are left out.
    """

    exclude: frozenset[int] = frozenset()
    genres: frozenset[str] = frozenset()
    exclude_genres: frozenset[str] = frozenset()
    released_from: int | None = None
    released_to: int | None = None

    @property
    def is_empty(self) -> bool:
        return self is NO_FILTERS or self == NO_FILTERS


NO_FILTERS = Filters()
CHILD_FILTERS = Filters(exclude_genres=frozenset(CHILD_EXCLUDED_GENRES))


def effective_filters(
    profile: Profile,
    *,
    exclude: Iterable[int] = (),
    genres: Iterable[str] | None = None,
    exclude_genres: Iterable[str] | None = None,
    released_from: int | None = None,
    released_to: int | None = None,
) -> Filters:
    """The filters a request means. A child (under ``CHILD_AGE_LIMIT``) gets
    ``CHILD_EXCLUDED_GENRES`` left out unless the request itself gives ``genres`` or
    ``exclude_genres`` (None = not given; an empty list counts as given)."""
    if (
        not exclude
        and genres is None
        and exclude_genres is None
        and released_from is None
        and released_to is None
    ):
        # The plain request, the most frequent by far: no sets to build.
        return CHILD_FILTERS if profile.age < CHILD_AGE_LIMIT else NO_FILTERS
    if genres is None and exclude_genres is None and profile.age < CHILD_AGE_LIMIT:
        exclude_genres = CHILD_EXCLUDED_GENRES
    return Filters(
        exclude=frozenset(exclude),
        genres=frozenset(genres or ()),
        exclude_genres=frozenset(exclude_genres or ()),
        released_from=released_from,
        released_to=released_to,
    )


class CatalogueMasks:
    """Per-catalogue masks: ``genre_flags`` (n, n_genres) bool with columns named by
    ``genre_names``, ``years`` (n,) ints (``NO_YEAR`` when unknown) and ``movie_ids``
    (n,) in catalogue order."""

    def __init__(
        self,
        *,
        movie_ids: np.ndarray | Sequence[int],
        genre_flags: np.ndarray,
        genre_names: Sequence[str],
        years: np.ndarray | Sequence[int],
    ) -> None:
        ids = np.asarray(movie_ids, dtype=np.int64).reshape(-1)
        flags = np.asarray(genre_flags, dtype=bool)
        year_array = np.asarray(years, dtype=np.int64).reshape(-1)
        if flags.shape != (len(ids), len(genre_names)) or len(year_array) != len(ids):
            raise ValueError("genre_flags and years need one row per movie")
        self.size = len(ids)
        self.genre_columns = {
            name: np.ascontiguousarray(flags[:, j]) for j, name in enumerate(genre_names)
        }
        self.years = year_array
        self.dated = year_array != NO_YEAR
        self.position = {int(movie_id): i for i, movie_id in enumerate(ids.tolist())}

    def positions_of(self, movie_ids: Iterable[int]) -> np.ndarray:
        """Catalogue positions of the movie ids that are in the catalogue."""
        found = [self.position[m] for m in movie_ids if m in self.position]
        return np.asarray(found, dtype=np.int64)

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """Boolean mask of the movies ``filters`` allow, or None when it allows all.

        Genre names the catalogue lacks match nothing.
        """
        if filters.is_empty:
            return None
        mask = np.ones(self.size, dtype=bool)
        if filters.genres:
            wanted = np.zeros(self.size, dtype=bool)
            for name in filters.genres:
                column = self.genre_columns.get(name)
                if column is not None:
                    wanted |= column
            mask &= wanted
        for name in filters.exclude_genres:
            column = self.genre_columns.get(name)
            if column is not None:
                mask &= ~column
        if filters.released_from is not None or filters.released_to is not None:
            mask &= self.dated
            if filters.released_from is not None:
                mask &= self.years >= filters.released_from
            if filters.released_to is not None:
                mask &= self.years <= filters.released_to
        if filters.exclude:
            mask[self.positions_of(filters.exclude)] = False
        return mask


class MovieIndex:
    """How a request names movies: exact titles (as the API returns them) or MovieLens ids.

    ``movie_ids`` are catalogue movie ids, ``ml_ids`` their MovieLens ids, in catalogue
    order. A title listed twice names both movies.
    """

    def __init__(
        self,
        *,
        movie_ids: Sequence[int] | np.ndarray,
        titles: Sequence[str],
        ml_ids: Sequence[int] | np.ndarray,
    ) -> None:
        self.by_title: dict[str, tuple[int, ...]] = {}
        for movie_id, title in zip(np.asarray(movie_ids).tolist(), titles, strict=True):
            self.by_title[title] = (*self.by_title.get(title, ()), int(movie_id))
        self.by_ml_id = {
            int(ml_id): int(movie_id)
            for ml_id, movie_id in zip(
                np.asarray(ml_ids).tolist(), np.asarray(movie_ids).tolist(), strict=True
            )
        }

    def resolve(self, refs: Iterable[str | int]) -> tuple[tuple[int, ...], list[str | int]]:
        """(catalogue movie ids named by ``refs``, in order, once each; the refs that name
        no movie, in order)."""
        found: dict[int, None] = {}
        unknown: list[str | int] = []
        for ref in refs:
            if isinstance(ref, str):
                ids: tuple[int, ...] = self.by_title.get(ref, ())
            else:
                one = self.by_ml_id.get(ref)
                ids = () if one is None else (one,)
            if not ids:
                unknown.append(ref)
            for movie_id in ids:
                found[movie_id] = None
        return tuple(found), unknown
