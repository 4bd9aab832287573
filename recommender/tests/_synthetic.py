"""Tiny hand-made frames shared by the pure tests (never the real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Movie 1 (Romance) is loved by women, movie 2 (Action) by men, movie 3 (Comedy)
# gets 3 stars from everyone, movie 4 (Action + Comedy) gets one like from rater 2.
GENRE_NAMES = ("Action", "Comedy", "Romance")


def raters() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rater_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "age": [22, 35, 48, 61, 23, 34, 47, 62],
            "gender": ["F", "F", "F", "F", "M", "M", "M", "M"],
            "occupation": [
                "student",
                "engineer",
                "writer",
                "retired",
                "student",
                "engineer",
                "writer",
                "retired",
            ],
        }
    )


def ratings() -> pd.DataFrame:
    rows = []
    for rater in (1, 2, 3, 4):
        rows += [(rater, 1, 5), (rater, 2, 2), (rater, 3, 3)]
    for rater in (5, 6, 7, 8):
        rows += [(rater, 1, 2), (rater, 2, 5), (rater, 3, 3)]
    rows.append((2, 4, 4))
    return pd.DataFrame(rows, columns=["rater_id", "movie_id", "rating"])


def movies() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "movie_id": [1, 2, 3, 4],
            "Action": [False, True, False, True],
            "Comedy": [False, False, True, True],
            "Romance": [True, False, False, False],
        }
    )


# Warm start: two tastes that demographics do not tell apart. Movies 1-5 and 6-10 are
# the two tastes' movies, 11 and 12 are liked by everyone now and then. Each rater has
# one taste (alternating every two raters, so both genders have both tastes).
TASTES = ((1, 2, 3, 4, 5), (6, 7, 8, 9, 10))
WARM_MOVIES = 12


def warm_raters(n: int = 40) -> pd.DataFrame:
    occupations = ("student", "engineer", "writer", "retired")
    return pd.DataFrame(
        {
            "rater_id": list(range(1, n + 1)),
            "age": [20 + (i * 7) % 40 for i in range(n)],
            "gender": ["F" if i % 2 else "M" for i in range(n)],
            "occupation": [occupations[i % 4] for i in range(n)],
        }
    )


def warm_ratings(n: int = 40, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        rater = i + 1
        liked, other = TASTES[(i // 2) % 2], TASTES[1 - (i // 2) % 2]
        for movie in liked:
            if rng.random() < 0.85:
                rows.append((rater, movie, int(rng.choice([4, 5]))))
        for movie in other:
            if rng.random() < 0.3:
                rows.append((rater, movie, int(rng.choice([1, 2]))))
        for movie in (11, 12):
            if rng.random() < 0.5:
                rows.append((rater, movie, int(rng.choice([3, 4]))))
    return pd.DataFrame(rows, columns=["rater_id", "movie_id", "rating"])


def warm_movies() -> pd.DataFrame:
    ids = list(range(1, WARM_MOVIES + 1))
    return pd.DataFrame(
        {
            "movie_id": ids,
            "Action": [m in TASTES[0] for m in ids],
            "Drama": [m in TASTES[1] for m in ids],
            "Comedy": [m > 10 for m in ids],
        }
    )
