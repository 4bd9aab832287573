"""Benchmark: the catalogue and model admin changelists, page times and query counts.

    python benchmarks/bench_admin.py [--source DIR] [--grow-to N] [--feedback N] [--runs N]
                                     [--existing]

A scratch database (as in bench_ingest.py: Postgres next to DATABASE_URL's, else a SQLite
file) gets the migrations and the ingest of ``--source`` (ml-100k by default, or any data
set in its format, such as the synthetic generator's). ``--grow-to N`` (Postgres only) then
adds synthetic raters, movies and ratings with SQL until there are N ratings, about 106 per
rater over a catalogue of N / 590 movies: the shape of ml-100k scaled up, spread evenly (not
long-tailed). ``--feedback N`` (Postgres) adds feedback people over 10 API keys until there
are N, 10 ratings each, for the feedback admin. With ``--existing`` the database
DATABASE_URL names is used and kept
(migrated, ingested only if empty, grown only if short), so a large data set is built once
and measured again after a change.

Each page is fetched once to warm up, then ``--runs`` times. Printed: the median and the
slowest wall time, the median process CPU time (on SQLite it includes the queries, so it
holds up on a busy machine), the median time spent in the database, and the queries.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.bench_ingest import SHARED  # noqa: E402

PAGES = [
    ("movies", "/admin/catalog/movie/"),
    ("movies, 2nd page", "/admin/catalog/movie/?p=2"),
    ("movies by genre", "/admin/catalog/movie/?genres__id__exact=9"),
    ("movies by year", "/admin/catalog/movie/?release_year=1995"),
    ("movies searched", "/admin/catalog/movie/?q=star"),
    ("raters", "/admin/catalog/rater/"),
    ("raters by occupation", "/admin/catalog/rater/?occupation=writer&gender=F"),
    ("raters searched", "/admin/catalog/rater/?q=doctor"),
    ("ratings", "/admin/catalog/rating/"),
    ("ratings, 50th page", "/admin/catalog/rating/?p=50"),
    ("ratings of 5 stars", "/admin/catalog/rating/?rating=5"),
    ("ratings in 1998", "/admin/catalog/rating/?rated=1998"),
    ("ratings in 1998-03", "/admin/catalog/rating/?rated=1998-03"),
    ("ratings of movie 50", "/admin/catalog/rating/?movie__id__exact=50"),
    ("ratings of rater 1", "/admin/catalog/rating/?rater__id__exact=1"),
    ("ratings searched", "/admin/catalog/rating/?q=star"),
    ("genres", "/admin/catalog/genre/"),
    ("model versions", "/admin/recommender/modelversion/"),
    ("feedback people", "/admin/recommender/feedbackperson/"),
    ("feedback people of a key", "/admin/recommender/feedbackperson/?api_key__id__exact={key}"),
    ("feedback people searched", "/admin/recommender/feedbackperson/?q=person-17"),
    ("feedback of a year", "/admin/recommender/feedbackperson/?created_at__year=2026"),
    ("feedback person", "/admin/recommender/feedbackperson/{person}/change/"),
    ("API keys", "/admin/accounts/apikey/"),
]

GROW_SQL = [
    # Raters and movies first, so every synthetic rating has both ends.
    """INSERT INTO catalog_rater (ml_id, age, gender, occupation, zip_code)
       SELECT m + g, 18 + (g * 7) %% 50, (ARRAY['M','F'])[1 + g %% 2],
              (ARRAY['student','writer','engineer','educator','other'])[1 + g %% 5], ''
       FROM generate_series(1, %(raters)s) AS g,
            (SELECT max(ml_id) AS m FROM catalog_rater) AS t""",
    """INSERT INTO catalog_movie (ml_id, title, imdb_url, updated_at)
       SELECT m + g, 'Synthetic movie ' || g, '', now()
       FROM generate_series(1, %(movies)s) AS g,
            (SELECT max(ml_id) AS m FROM catalog_movie) AS t""",
    """INSERT INTO catalog_movie_genres (movie_id, genre_id)
       SELECT mv.id, (SELECT id FROM catalog_genre ORDER BY id OFFSET 1 + mv.id %% 18 LIMIT 1)
       FROM catalog_movie AS mv WHERE mv.title LIKE 'Synthetic movie %%'
         AND NOT EXISTS (SELECT 1 FROM catalog_movie_genres AS g WHERE g.movie_id = mv.id)""",
    # Rater r rates movies (r * 31 + j * 157) mod M for j < per_rater: distinct for each r
    # while 157 and M share no factor (M is chosen so).
    """INSERT INTO catalog_rating (rater_id, movie_id, rating, rated_at)
       SELECT r.id, mv.ids[1 + (r.id * 31 + j * 157) %% mv.n], 1 + (r.id + j) %% 5,
              timestamptz '1997-09-20' + ((r.id * 7 + j * 13) %% 220) * interval '1 day'
       FROM (SELECT id FROM catalog_rater WHERE id > %(first_rater)s) AS r,
            generate_series(0, %(per_rater)s - 1) AS j,
            (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM catalog_movie) AS mv""",
    # What autovacuum does to an insert-only table soon after (Postgres 13+): statistics, and
    # the visibility map that lets counts and means come from the indexes alone.
    "VACUUM ANALYZE",
]


# Feedback people over 10 API keys, 10 ratings each of distinct movies (as POST
# /api/feedback stores them), made valid by construction.
FEEDBACK_SQL = [
    """INSERT INTO recommender_feedbackperson
           (api_key_id, client_ref, age, gender, occupation, created_at, updated_at)
       SELECT k.ids[1 + g %% 10], 'person-' || g, 18 + g %% 50, (ARRAY['M','F','O'])[1 + g %% 3],
              (ARRAY['student','writer','engineer','educator','other'])[1 + g %% 5],
              now() - (g %% 300) * interval '1 day', now() - (g %% 200) * interval '1 day'
       FROM generate_series(1, %(people)s) AS g,
            (SELECT array_agg(id ORDER BY id) AS ids FROM accounts_apikey
             WHERE name LIKE 'bench feedback %%') AS k""",
    """INSERT INTO recommender_feedbackrating (person_id, movie_id, rating, rated_at)
       SELECT p.id, mv.ids[1 + (p.id * 31 + j * 157) %% mv.n], 1 + (p.id + j) %% 5, p.created_at
       FROM recommender_feedbackperson AS p, generate_series(0, 9) AS j,
            (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM catalog_movie) AS mv
       WHERE NOT EXISTS (SELECT 1 FROM recommender_feedbackrating AS r WHERE r.person_id = p.id)""",
    "VACUUM ANALYZE recommender_feedbackperson",
    "VACUUM ANALYZE recommender_feedbackrating",
]


def grow_feedback(people: int) -> None:
    """At least ``people`` feedback people with 10 ratings each (Postgres)."""
    from django.db import connection

    from accounts.models import ApiKey
    from accounts.services import api_key_create
    from recommender.models import FeedbackPerson

    if connection.vendor != "postgresql":
        raise SystemExit("--feedback needs Postgres (DATABASE_URL)")
    have = FeedbackPerson.objects.count()
    if have >= people:
        return
    for number in range(ApiKey.objects.filter(name__startswith="bench feedback ").count(), 10):
        api_key_create(name=f"bench feedback {number}")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        for statement in FEEDBACK_SQL:
            cursor.execute(statement, {"people": people - have})
        cursor.execute("SET session_replication_role = DEFAULT")
    print(
        f"feedback grown to {FeedbackPerson.objects.count():,} people in "
        f"{time.perf_counter() - started:.0f} s"
    )


@contextmanager
def scratch_database() -> Iterator[str]:
    """Yield a DATABASE_URL for an empty database, removed afterwards.

    On Postgres the scratch database is named after DATABASE_URL's (``<name>_bench_<hex>``),
    so it stays inside the namespace that database's owner uses.
    """
    url = os.environ.get("DATABASE_URL", "")
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql", "pgsql"):
        with tempfile.TemporaryDirectory(prefix="movierec-bench-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    import psycopg2

    name = f"{parsed.path.lstrip('/') or 'movierec'}_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(urlunparse(parsed._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(parsed._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def grow(target: int) -> None:
    from django.db import connection

    from catalog.models import Movie, Rater, Rating

    if connection.vendor != "postgresql":
        raise SystemExit("--grow-to needs Postgres (DATABASE_URL)")
    have = Rating.objects.count()
    if target <= have * 1.01:  # the construction lands a little under its target
        return
    per_rater = 106
    raters = (target - have) // per_rater
    movies = max(target // 590 - Movie.objects.count(), 0)
    while (Movie.objects.count() + movies) % 157 == 0:
        movies += 1
    first_rater = Rater.objects.order_by("-id").values_list("id", flat=True).first() or 0
    params = {"raters": raters, "movies": movies, "per_rater": per_rater}
    params["first_rater"] = first_rater
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Every reference is made valid by construction: skip the per-row foreign key checks.
        cursor.execute("SET session_replication_role = replica")
        for statement in GROW_SQL:
            cursor.execute(statement, params)
        cursor.execute("SET session_replication_role = DEFAULT")
    print(
        f"grown to {Rating.objects.count():,} ratings, {Rater.objects.count():,} raters, "
        f"{Movie.objects.count():,} movies in {time.perf_counter() - started:.0f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MOVIELENS_SOURCE") or str(SHARED))
    parser.add_argument("--grow-to", type=int, default=0, help="ratings to reach (Postgres)")
    parser.add_argument("--runs", type=int, default=5, help="timed fetches per page")
    parser.add_argument(
        "--feedback", type=int, default=0, help="feedback people to reach (Postgres)"
    )
    parser.add_argument(
        "--existing", action="store_true", help="use and keep DATABASE_URL's database"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    place = nullcontext(os.environ.get("DATABASE_URL", "")) if args.existing else scratch_database()
    with place as database_url:
        os.environ["DATABASE_URL"] = database_url
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.core.management import call_command
        from django.db import connection, reset_queries
        from django.test import Client

        from catalog.models import Rating
        from catalog.services import movielens_ingest

        logging.disable(logging.INFO)  # the access log would drown the table
        settings.ALLOWED_HOSTS = ["*"]
        settings.DEBUG = True  # so that connection.queries counts the queries
        settings.AXES_ENABLED = False  # this measures pages, not the login-attempt log
        call_command("migrate", verbosity=0, interactive=False)
        if not args.existing or not Rating.objects.exists():
            movielens_ingest(source=args.source)
        if args.grow_to:
            grow(args.grow_to)
        if args.feedback:
            grow_feedback(args.feedback)
        print(f"database: {connection.vendor}, {Rating.objects.count():,} ratings")
        client = Client()
        user = User.objects.filter(username="bench").first()
        client.force_login(user or User.objects.create_superuser("bench", "b@example.com", "x"))
        print(f"{'page':<24}{'median ms':>10}{'max ms':>9}{'cpu ms':>8}{'db ms':>8}{'queries':>9}")
        from recommender.models import FeedbackPerson

        first = FeedbackPerson.objects.order_by("pk").values_list("pk", "api_key_id").first()
        slowest, failed = 0.0, 0
        for label, page in PAGES:
            if "{" in page and first is None:
                continue  # no feedback people to show (see --feedback)
            url = page.format(person=first[0], key=first[1]) if "{" in page and first else page
            response = client.get(url)  # warm up
            if response.status_code != 200:
                print(f"{label:<24}FAIL: {url} answered {response.status_code}")
                failed += 1
                continue
            times, cpu, db = [], [], []
            for _ in range(args.runs):
                reset_queries()
                started, cpu_started = time.perf_counter(), time.process_time()
                client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                db.append(sum(float(q["time"]) for q in connection.queries) * 1000)
            queries = len(connection.queries)
            median = statistics.median(times)
            slowest = max(slowest, median)
            print(
                f"{label:<24}{median:>10.1f}{max(times):>9.1f}{statistics.median(cpu):>8.1f}"
                f"{statistics.median(db):>8.1f}{queries:>9}"
            )
        print(f"slowest median: {slowest:.1f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
