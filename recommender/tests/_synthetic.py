"""Tiny hand-made frames shared by the pure tests (never the real data)."""

from __future__ import annotations

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
