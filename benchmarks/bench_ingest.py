"""Benchmark: ml-100k into an empty database, then a no-change re-run. Prints both timings.

    python benchmarks/bench_ingest.py [--source PATH_OR_URL] [--runs N]

With DATABASE_URL pointing at Postgres, a scratch database is created next to the named one
(on the same server, same credentials) and dropped at the end; otherwise a fresh SQLite file
in a temporary folder is used. The source defaults to MOVIELENS_SOURCE, then to the shared
copy beside the checkout.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "ml-100k"


@contextmanager
def scratch_database() -> Iterator[str]:
    """Yield a DATABASE_URL for an empty database, removed afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if urlparse(url).scheme in ("postgres", "postgresql", "pgsql"):
        import psycopg2

        parsed = urlparse(url)
        name = f"movierec_bench_{uuid.uuid4().hex[:8]}"
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
    else:
        with tempfile.TemporaryDirectory(prefix="movierec-bench-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.environ.get("MOVIELENS_SOURCE") or str(SHARED))
    parser.add_argument("--runs", type=int, default=1, help="repeat the no-change re-run N times")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    with scratch_database() as database_url:
        os.environ["DATABASE_URL"] = database_url
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from catalog.services import movielens_ingest

        call_command("migrate", verbosity=0, interactive=False)
        print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
        print(f"source:   {args.source}")

        started = time.perf_counter()
        report = movielens_ingest(source=args.source)
        empty = time.perf_counter() - started
        print(f"empty database:  {empty:6.2f} s  {report.summary()}")

        for _ in range(args.runs):
            started = time.perf_counter()
            report = movielens_ingest(source=args.source)
            rerun = time.perf_counter() - started
            print(f"no-change rerun: {rerun:6.2f} s  {report.summary()}")
        if report.changed:
            print("FAIL: the re-run changed rows", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
