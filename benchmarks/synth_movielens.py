"""Benchmark tool: a synthetic data set in ml-100k's exact format, N times the size.

    python benchmarks/synth_movielens.py --scale N [--seed S] --out DIR [--movies M]

Writes u.genre, u.item (Latin-1), u.user, u.data, u.occupation and u.info into DIR with
``round(943 N)`` raters, about ``100,000 N`` ratings and ``round(1682 N^0.5)`` movies
(``--movie-exponent``, default 0.5: scale 100 has 16,820 movies and 10 million ratings), so
ratings per movie grow with the square root of the scale while ratings per rater keep
ml-100k's distribution. The same scale and seed always give the same bytes.

What is copied from ml-100k (its summary statistics are constants below, so the real data set
is not needed): the occupation x gender mix and the age spread of each occupation; the
long-tailed number of ratings per rater (at least 20, log-normal above that) and per movie
(log-normal popularity, correlated with how well a movie is liked); the number of genres per
movie and each genre's frequency; the star distribution (hence the 55 % like rate), exactly,
by quantiles. The demographic signal: every movie has a loading on a few demographic
directions (gender, age, age squared, an occupation embedding), partly explained by its
genres. It tilts both who rates a movie and how much they like it; the two strengths were set
so that the project's model beats like-popularity by about as much as on the real data
(README, "Growth with the data").
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

# Run as a script (`python benchmarks/synth_movielens.py`), the project root is not on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recommender.ml.features import GENRES  # ml-100k's 19 genres, in file order

# Share of ml-100k's movies flagged with each genre, and how many genres a movie has (1-6).
GENRE_SHARE = (
    0.0012, 0.1492, 0.0803, 0.025, 0.0725, 0.3002, 0.0648, 0.0297, 0.431, 0.0131,
    0.0143, 0.0547, 0.0333, 0.0363, 0.1468, 0.06, 0.1492, 0.0422, 0.0161,
)  # fmt: skip
GENRES_PER_MOVIE = (833, 569, 215, 51, 11, 3)
# ml-100k's raters: (occupation, women, men, mean age, age standard deviation).
OCCUPATION_MIX = (
    ("administrator", 36, 43, 38.7, 11.1),
    ("artist", 13, 15, 31.4, 8.7),
    ("doctor", 0, 7, 43.6, 12.5),
    ("educator", 26, 69, 42.0, 10.4),
    ("engineer", 2, 65, 36.4, 11.2),
    ("entertainment", 2, 16, 29.2, 10.1),
    ("executive", 3, 29, 38.7, 10.6),
    ("healthcare", 11, 5, 41.6, 11.3),
    ("homemaker", 6, 1, 32.6, 10.7),
    ("lawyer", 2, 10, 36.8, 10.8),
    ("librarian", 29, 22, 40.0, 11.0),
    ("marketing", 10, 16, 37.6, 9.5),
    ("none", 4, 5, 26.6, 13.8),
    ("other", 36, 69, 34.5, 10.7),
    ("programmer", 6, 60, 33.1, 9.6),
    ("retired", 1, 13, 63.1, 5.8),
    ("salesman", 3, 9, 35.7, 14.1),
    ("scientist", 3, 28, 35.5, 7.4),
    ("student", 60, 136, 22.1, 5.3),
    ("technician", 1, 26, 33.1, 9.9),
    ("writer", 19, 26, 36.3, 11.4),
)
AGE_RANGE = (7, 73)
STAR_SHARE = (0.0611, 0.1137, 0.2715, 0.3417, 0.2120)  # 1..5 stars
BASE_RATERS, BASE_MOVIES, BASE_RATINGS = 943, 1682, 100_000
MIN_RATINGS_PER_RATER = 20
# Percentiles of ml-100k's ratings per rater and per movie; counts are drawn from the
# piecewise log-linear distribution through them (movies: as popularity weights).
PERCENTILES = (
    0, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 98, 99, 100,
)  # fmt: skip
RATINGS_PER_RATER = (
    20.0, 20.0, 21.0, 23.0, 26.0, 29.0, 33.0, 38.0, 43.0, 50.0, 57.0, 65.0, 75.0, 93.0,
    108.0, 127.4, 148.0, 171.6, 205.4, 244.4, 310.6, 388.0, 442.5, 737.0,
)  # fmt: skip
RATINGS_PER_MOVIE = (
    1.0, 1.0, 1.0, 2.0, 3.0, 5.0, 6.0, 9.0, 12.0, 16.0, 21.0, 27.0, 34.0, 43.0, 51.7, 65.0,
    80.0, 100.0, 127.8, 169.0, 229.8, 298.4, 369.1, 583.0,
)  # fmt: skip
POPULARITY_QUALITY_CORRELATION = 0.6
TIME_RANGE = (874_724_710, 893_286_638)  # ml-100k's first and last timestamp
# The demographic signal: loadings are N(0, 1) per direction, times these strengths.
N_OCCUPATION_DIMS = 3
LIKE_STRENGTH = 0.7  # on the liking score (unit-variance noise)
SELECTION_STRENGTH = 0.25  # on the log-odds of rating a movie at all
GENRE_SHARE_OF_LOADING = 0.5  # how much of a movie's loading its genres explain
RATER_BIAS_SD = 0.5
QUALITY_SD = 2.0  # how much movies differ in how well they are liked
_WORDS = (
    "Night", "River", "Summer", "Blue", "Last", "Lost", "City", "Dream", "Stone", "King",
    "Café", "Noël", "Misérables", "Mañana", "Señor", "Déjà", "Garçon", "Über", "Fiancée",
    "Star", "Road", "Heart", "Winter", "Shadow", "Fire", "Angel", "Ghost", "Island", "Wild",
)  # fmt: skip
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class SyntheticData:
    """The generated data set as arrays (ids are 1-based, as in ml-100k)."""

    genre_flags: np.ndarray  # (n_movies, 19) bool
    release_years: np.ndarray  # (n_movies,)
    release_days: np.ndarray  # (n_movies,) day of the year 0..364
    ages: np.ndarray  # (n_raters,)
    genders: np.ndarray  # (n_raters,) "M"/"F"
    occupations: np.ndarray  # (n_raters,) index into OCCUPATION_MIX
    zip_codes: np.ndarray  # (n_raters,)
    rater: np.ndarray  # (n_ratings,) rater id
    movie: np.ndarray  # (n_ratings,) movie id
    stars: np.ndarray  # (n_ratings,)
    timestamp: np.ndarray  # (n_ratings,)

    @property
    def n_movies(self) -> int:
        return len(self.genre_flags)

    @property
    def n_raters(self) -> int:
        return len(self.ages)


def sizes(scale: float, *, movie_exponent: float = 0.5) -> tuple[int, int, int]:
    """(raters, movies, target ratings) at a scale."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    raters = max(round(BASE_RATERS * scale), 5)
    movies = max(round(BASE_MOVIES * scale**movie_exponent), 30)
    return raters, movies, max(round(BASE_RATINGS * scale), raters * MIN_RATINGS_PER_RATER)


def generate(
    *, scale: float, seed: int = 0, movies: int | None = None, movie_exponent: float = 0.5
) -> SyntheticData:
    """Generate a data set (see the module docstring); vectorised, about 1 s per 10^6 ratings."""
    rng = np.random.default_rng(seed)
    n_raters, n_movies, n_ratings = sizes(scale, movie_exponent=movie_exponent)
    if movies is not None:
        n_movies = movies
    if n_movies < 2 * MIN_RATINGS_PER_RATER:
        raise ValueError(f"need at least {2 * MIN_RATINGS_PER_RATER} movies")

    # Movies: genres, release dates, popularity, quality and demographic loadings.
    flags = _genre_flags(rng, n_movies)
    years = np.clip(np.round(1995 - rng.gamma(0.6, 10.0, n_movies) + 1), 1922, 1998).astype(int)
    days = rng.integers(0, 365, n_movies)
    log_popularity = _from_percentiles(rng, RATINGS_PER_MOVIE, n_movies)
    popularity = (log_popularity - log_popularity.mean()) / log_popularity.std()
    quality = POPULARITY_QUALITY_CORRELATION * popularity + math.sqrt(
        1 - POPULARITY_QUALITY_CORRELATION**2
    ) * rng.normal(0.0, 1.0, n_movies)

    # Raters: occupation x gender from ml-100k's table, age from the occupation's spread.
    mix = np.array([[women, men] for _, women, men, _, _ in OCCUPATION_MIX], dtype=float)
    cell = rng.choice(mix.size, size=n_raters, p=(mix / mix.sum()).reshape(-1))
    occupations, male = np.divmod(cell, 2)
    means = np.array([row[3] for row in OCCUPATION_MIX])[occupations]
    spreads = np.array([row[4] for row in OCCUPATION_MIX])[occupations]
    ages = np.clip(np.round(rng.normal(means, spreads)), *AGE_RANGE).astype(int)
    genders = np.where(male == 1, "M", "F")
    zip_codes = rng.integers(0, 100_000, n_raters)

    # Demographic directions of a rater, and each movie's loading on them.
    embedding = rng.normal(0.0, 1.0, (len(OCCUPATION_MIX), N_OCCUPATION_DIMS))
    age_z = (ages - 33.0) / 12.0
    demographics = np.column_stack(
        [np.where(male == 1, 0.6, -1.4), age_z, age_z**2 - 1.0, embedding[occupations]]
    )
    n_dims = demographics.shape[1]
    genre_effect = rng.normal(0.0, 1.0, (len(GENRES), n_dims))
    from_genres = flags @ genre_effect / np.sqrt(np.maximum(flags.sum(axis=1, keepdims=True), 1))
    loadings = math.sqrt(GENRE_SHARE_OF_LOADING) * from_genres + math.sqrt(
        1 - GENRE_SHARE_OF_LOADING
    ) * rng.normal(0.0, 1.0, (n_movies, n_dims))
    loadings /= math.sqrt(n_dims)

    counts = _ratings_per_rater(rng, n_raters, n_ratings, n_movies)
    rater, movie = _pairs(
        rng, counts, demographics, occupations, male, ages, log_popularity, loadings
    )

    # How much each rater likes what they rated; stars by ml-100k's quantiles, exactly.
    affinity = np.einsum("ij,ij->i", demographics[rater], loadings[movie])
    score = (
        QUALITY_SD * quality[movie]
        + LIKE_STRENGTH * affinity
        + rng.normal(0.0, RATER_BIAS_SD, n_raters)[rater]
        + rng.normal(0.0, 1.0, len(rater))
    )
    cuts = np.quantile(score, np.cumsum(STAR_SHARE)[:-1])
    stars = (np.searchsorted(cuts, score) + 1).astype(np.int8)

    # Most raters rate in one sitting, some over months (as in ml-100k).
    first, last = TIME_RANGE
    span = np.minimum(np.exp(rng.normal(np.log(3000.0), 3.0, n_raters)), (last - first) / 2)
    start = first + rng.random(n_raters) * (last - first - span)
    timestamp = (start[rater] + rng.random(len(rater)) * span[rater]).astype(np.int64)

    order = rng.permutation(len(rater))  # u.data is in no particular order
    return SyntheticData(
        genre_flags=flags.astype(bool),
        release_years=years,
        release_days=days,
        ages=ages,
        genders=genders,
        occupations=occupations,
        zip_codes=zip_codes,
        rater=(rater[order] + 1).astype(np.int64),
        movie=(movie[order] + 1).astype(np.int64),
        stars=stars[order],
        timestamp=timestamp[order],
    )


def _genre_flags(rng: np.random.Generator, n_movies: int) -> np.ndarray:
    """1-6 genres per movie, drawn without replacement in proportion to ml-100k's shares."""
    per_movie = np.array(GENRES_PER_MOVIE, dtype=float)
    how_many = rng.choice(len(per_movie), size=n_movies, p=per_movie / per_movie.sum()) + 1
    share = np.array(GENRE_SHARE)
    # Gumbel top-k: the first `how_many` genres by log(share) + Gumbel noise.
    keys = np.log(share) + rng.gumbel(size=(n_movies, len(share)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return (rank < how_many[:, None]).astype(float)


def _ratings_per_rater(
    rng: np.random.Generator, n_raters: int, n_ratings: int, n_movies: int
) -> np.ndarray:
    """At least 20 each, log-normal above that, summing to about ``n_ratings``."""
    extra = np.exp(_from_percentiles(rng, RATINGS_PER_RATER, n_raters)) - MIN_RATINGS_PER_RATER
    wanted_extra = max(n_ratings - MIN_RATINGS_PER_RATER * n_raters, 0)
    # Nobody rates more than 45 % of the catalogue (ml-100k's busiest rater: 44 %); what
    # the cap cuts off is spread over the others.
    cap = max(0, int(0.45 * n_movies) - MIN_RATINGS_PER_RATER)
    for _ in range(20):
        extra *= wanted_extra / max(np.minimum(extra, cap).sum(), 1e-9)
    extra = np.minimum(extra, cap)
    whole = np.floor(extra).astype(np.int64)
    # Round so that the total is right: the largest remainders get the missing units.
    short = min(max(wanted_extra - int(whole.sum()), 0), n_raters)
    whole[np.argsort(whole - extra, kind="stable")[:short]] += 1
    return MIN_RATINGS_PER_RATER + np.minimum(whole, cap)


def _from_percentiles(rng: np.random.Generator, values: tuple[float, ...], n: int) -> np.ndarray:
    """``n`` draws of log(value) from the distribution with these PERCENTILES."""
    return np.interp(rng.random(n) * 100, PERCENTILES, np.log(values))


def _pairs(
    rng: np.random.Generator,
    counts: np.ndarray,
    demographics: np.ndarray,
    occupations: np.ndarray,
    male: np.ndarray,
    ages: np.ndarray,
    log_weight: np.ndarray,
    loadings: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Which movies each rater rates: drawn by popularity, tilted by the rater's group, with
    duplicates redrawn. Groups are (occupation, gender, 10-year age band)."""
    n_movies = len(log_weight)
    group = (occupations * 2 + male) * 8 + np.minimum(ages // 10, 7)
    raters: list[np.ndarray] = []
    movies: list[np.ndarray] = []
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        tilt = demographics[members].mean(axis=0) @ loadings.T
        log_p = log_weight + SELECTION_STRENGTH * tilt
        p = np.exp(log_p - log_p.max())
        cumulative = np.cumsum(p)
        cumulative /= cumulative[-1]
        want = counts[members]
        have = np.zeros(len(members), dtype=np.int64)
        keys = np.zeros(0, dtype=np.int64)
        for _ in range(40):
            missing = want - have
            if not missing.any():
                break
            # Draw a little more than is missing; duplicates of earlier draws are dropped.
            draws = np.ceil(missing * 1.1).astype(np.int64)
            who = np.repeat(np.arange(len(members)), draws)
            what = np.searchsorted(cumulative, rng.random(len(who)), side="right")
            what = np.minimum(what, n_movies - 1)
            keys = np.concatenate([keys, who * n_movies + what])
            keys = _first_occurrences(keys, n_movies)
            # Keep each rater's first `want` distinct movies.
            who_all = keys // n_movies
            rank = np.arange(len(keys)) - np.searchsorted(who_all, who_all)
            keys = keys[rank < want[who_all]]
            have = np.bincount(keys // n_movies, minlength=len(members))
        raters.append(members[keys // n_movies])
        movies.append(keys % n_movies)
    return np.concatenate(raters), np.concatenate(movies)


def _first_occurrences(keys: np.ndarray, n_movies: int) -> np.ndarray:
    """The distinct keys grouped by rater, earlier draws first within a rater (so that
    trimming a rater's surplus does not favour low movie ids)."""
    _, first = np.unique(keys, return_index=True)
    kept = keys[np.sort(first)]
    return kept[np.argsort(kept // n_movies, kind="stable")]


def write(data: SyntheticData, out: Path) -> None:
    """Write the files of ml-100k's format into ``out`` (created if need be)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "u.genre").write_bytes(
        "".join(f"{name}|{i}\n" for i, name in enumerate(GENRES)).encode("ascii") + b"\n"
    )
    (out / "u.occupation").write_bytes(
        "".join(f"{row[0]}\n" for row in OCCUPATION_MIX).encode("ascii")
    )
    lines = []
    for i in range(data.n_movies):
        title = _title(i, int(data.release_years[i]))
        year, day = int(data.release_years[i]), int(data.release_days[i])
        month = min(day // 31, 11)
        released = f"{day % 28 + 1:02d}-{_MONTHS[month]}-{year}"
        url = "http://us.imdb.com/M/title-exact?" + quote(title, safe="()", encoding="latin-1")
        flags = "|".join("1" if flag else "0" for flag in data.genre_flags[i])
        lines.append(f"{i + 1}|{title}|{released}||{url}|{flags}\n")
    (out / "u.item").write_bytes("".join(lines).encode("latin-1"))
    occupation_names = [row[0] for row in OCCUPATION_MIX]
    (out / "u.user").write_bytes(
        "".join(
            f"{i + 1}|{age}|{gender}|{occupation_names[occupation]}|{zip_code:05d}\n"
            for i, (age, gender, occupation, zip_code) in enumerate(
                zip(
                    data.ages.tolist(),
                    data.genders.tolist(),
                    data.occupations.tolist(),
                    data.zip_codes.tolist(),
                    strict=True,
                )
            )
        ).encode("ascii")
    )
    with (out / "u.data").open("wb") as file:
        step = 1 << 20
        for start in range(0, len(data.rater), step):
            chunk = slice(start, start + step)
            columns = (
                data.rater[chunk].tolist(),
                data.movie[chunk].tolist(),
                data.stars[chunk].tolist(),
                data.timestamp[chunk].tolist(),
            )
            file.write(
                "".join(
                    f"{r}\t{m}\t{s}\t{t}\n" for r, m, s, t in zip(*columns, strict=True)
                ).encode("ascii")
            )
    (out / "u.info").write_bytes(
        f"{data.n_raters} users\n{data.n_movies} items\n{len(data.rater)} ratings\n".encode()
    )


def _title(index: int, year: int) -> str:
    first = _WORDS[index % len(_WORDS)]
    second = _WORDS[(index // len(_WORDS) * 7 + 3) % len(_WORDS)]
    return f"{first} {second} {index + 1} ({year})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--movies", type=int, default=None, help="override the movie count")
    parser.add_argument("--movie-exponent", type=float, default=0.5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    data = generate(
        scale=args.scale, seed=args.seed, movies=args.movies, movie_exponent=args.movie_exponent
    )
    generated = time.perf_counter() - started
    write(data, args.out)
    written = time.perf_counter() - started - generated
    print(
        f"{args.out}: {data.n_raters} raters, {data.n_movies} movies, {len(data.rater)} ratings "
        f"(generated in {generated:.1f} s, written in {written:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
