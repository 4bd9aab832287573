"""catalog: models. Genres, movies, MovieLens raters and their ratings.

Every imported row keeps its MovieLens id in ``ml_id`` (unique): that is what the ingest matches
on, so a re-run updates rows in place. Other apps identify movies and raters by the database
primary key, never by ``ml_id``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Max, Q


class Gender(models.TextChoices):
    MALE = "M", "Male"
    FEMALE = "F", "Female"
    OTHER = "O", "Other"


class Occupation(models.TextChoices):
    """The 21 occupations of ml-100k's u.occupation, spelled as there."""

    ADMINISTRATOR = "administrator", "Administrator"
    ARTIST = "artist", "Artist"
    DOCTOR = "doctor", "Doctor"
    EDUCATOR = "educator", "Educator"
    ENGINEER = "engineer", "Engineer"
    ENTERTAINMENT = "entertainment", "Entertainment"
    EXECUTIVE = "executive", "Executive"
    HEALTHCARE = "healthcare", "Healthcare"
    HOMEMAKER = "homemaker", "Homemaker"
    LAWYER = "lawyer", "Lawyer"
    LIBRARIAN = "librarian", "Librarian"
    MARKETING = "marketing", "Marketing"
    NONE = "none", "None"
    OTHER = "other", "Other"
    PROGRAMMER = "programmer", "Programmer"
    RETIRED = "retired", "Retired"
    SALESMAN = "salesman", "Salesman"
    SCIENTIST = "scientist", "Scientist"
    STUDENT = "student", "Student"
    TECHNICIAN = "technician", "Technician"
    WRITER = "writer", "Writer"


class MlIdQuerySet(models.QuerySet):
    def next_ml_id(self) -> int:
        """The next free MovieLens id (max + 1), for rows staff add by hand."""
        current = self.aggregate(top=Max("ml_id"))["top"]
        return 1 if current is None else current + 1


class Genre(models.Model):
    ml_id = models.PositiveSmallIntegerField("MovieLens id", unique=True)
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["ml_id"]

    def __str__(self) -> str:
        return self.name


class Movie(models.Model):
    ml_id = models.PositiveIntegerField("MovieLens id", unique=True)
    title = models.CharField(max_length=255, db_index=True)
    release_date = models.DateField(null=True, blank=True, db_index=True)
    video_release_date = models.DateField(null=True, blank=True)
    imdb_url = models.URLField("IMDb URL", max_length=500, blank=True)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)
    # Part of `catalogue_version()`: bumped by every save and by the ingest on changed rows.
    updated_at = models.DateTimeField(auto_now=True)

    objects = MlIdQuerySet.as_manager()

    class Meta:
        ordering = ["ml_id"]

    def __str__(self) -> str:
        return self.title


class Rater(models.Model):
    ml_id = models.PositiveIntegerField("MovieLens id", unique=True)
    age = models.PositiveSmallIntegerField()
    gender = models.CharField(max_length=1, choices=Gender.choices)
    occupation = models.CharField(max_length=32, choices=Occupation.choices)
    zip_code = models.CharField(max_length=10, blank=True)

    objects = MlIdQuerySet.as_manager()

    class Meta:
        ordering = ["ml_id"]
        indexes = [
            # The admin's filters, in its list order.
            models.Index(fields=["gender", "ml_id"], name="catalog_rater_gender"),
            models.Index(fields=["occupation", "ml_id"], name="catalog_rater_occupation"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(gender__in=Gender.values), name="catalog_rater_gender_valid"
            ),
            models.CheckConstraint(
                condition=Q(occupation__in=Occupation.values),
                name="catalog_rater_occupation_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Rater {self.ml_id}"


class Rating(models.Model):
    # No index of its own: the (rater, movie) unique constraint leads with it.
    rater = models.ForeignKey(
        Rater, on_delete=models.CASCADE, related_name="ratings", db_index=False
    )
    # Indexed by the (movie, rating) index below.
    movie = models.ForeignKey(
        Movie, on_delete=models.CASCADE, related_name="ratings", db_index=False
    )
    rating = models.SmallIntegerField(choices=[(value, str(value)) for value in range(1, 6)])
    rated_at = models.DateTimeField()

    class Meta:
        # No default ordering: the table is read whole by the recommender and should not
        # pay for a sort it does not need.
        indexes = [
            # A movie's ratings, and its count and mean rating from the index alone.
            models.Index(fields=["movie", "rating"], name="catalog_rating_movie_rating"),
            # The admin's newest-first list (ties broken by id) and its date filter.
            models.Index(fields=["rated_at", "id"], name="catalog_rating_rated_at"),
            # The admin's filter by stars, newest first.
            models.Index(fields=["rating", "rated_at", "id"], name="catalog_rating_stars"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["rater", "movie"], name="catalog_rating_one_per_pair"),
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="catalog_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rater} → {self.movie}: {self.rating}"
