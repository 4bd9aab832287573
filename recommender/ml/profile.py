"""Domain layer (Django-free): the demographic profile a recommendation is asked for."""

from __future__ import annotations

from dataclasses import dataclass

GENDERS: tuple[str, ...] = ("M", "F", "O")
OCCUPATIONS: tuple[str, ...] = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)
MIN_AGE = 1
MAX_AGE = 120


@dataclass(frozen=True)
class Profile:
    """Who is asking: the only three things the service knows about a person."""

    age: int
    gender: str
    occupation: str

    def __post_init__(self) -> None:
        # bool is an int subclass; True as an age is a caller bug, not an age of 1.
        if not isinstance(self.age, int) or isinstance(self.age, bool):
            raise ValueError(f"age must be an integer, got {self.age!r}")
        if not MIN_AGE <= self.age <= MAX_AGE:
            raise ValueError(f"age must be between {MIN_AGE} and {MAX_AGE}, got {self.age}")
        if self.gender not in GENDERS:
            raise ValueError(f"gender must be one of {GENDERS}, got {self.gender!r}")
        if self.occupation not in OCCUPATIONS:
            raise ValueError(
                f"occupation must be one of the {len(OCCUPATIONS)} MovieLens "
                f"occupations, got {self.occupation!r}"
            )
