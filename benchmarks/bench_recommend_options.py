"""Bench script: CPU per POST /api/recommend in process, plain vs with request options.

Needs a database with ml-100k ingested and an active model (`make migrate ingest train`;
DATABASE_URL selects it as for the service). Runs the whole Django stack (middleware,
authentication, the input serializer, the service, the JSON renderer) through the test
client, without sockets, and prints the median CPU time per request for each kind of body.

    python -m benchmarks.bench_recommend_options [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import django

AGES = range(18, 60)
GENDERS = ("M", "F", "O")
OCCUPATIONS = ("student", "engineer", "writer", "educator", "programmer", "retired", "other")


def _bodies(extra: dict[str, Any]) -> Callable[[int], dict[str, Any]]:
    def body(i: int) -> dict[str, Any]:
        return {
            "age": AGES[i % len(AGES)],
            "gender": GENDERS[i % 3],
            "occupation": OCCUPATIONS[i % len(OCCUPATIONS)],
            **extra,
        }

    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("ACCESS_LOG", "0")
    django.setup()
    from rest_framework.test import APIClient

    from accounts.services import api_key_create, token_obtain_for_key

    api_key, raw = api_key_create(name="bench_recommend_options")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_obtain_for_key(raw_key=raw).token}")
    filtered = {
        "exclude": ["Star Wars (1977)", "Fargo (1996)", 181, 100, 127],
        "genres": ["Comedy", "Drama", "Romance"],
        "exclude_genres": ["Horror"],
        "released_from": 1990,
        "released_to": 1998,
    }
    kinds = {
        "plain (profile only)": _bodies({}),
        "filtered": _bodies(filtered),
        "filtered, detail": _bodies({**filtered, "detail": True}),
        "offset 200": _bodies({"offset": 200}),
        "child (age 9), default": lambda i: {**_bodies({})(i), "age": 9},
    }
    try:
        for name, body in kinds.items():
            # First pass fills the answer caches, as a running worker's would be.
            for i in range(len(AGES) * 3):
                client.post("/api/recommend", json.dumps(body(i)), content_type="application/json")
            samples = []
            for i in range(args.requests):
                payload = json.dumps(body(i))
                started = time.process_time()
                response = client.post("/api/recommend", payload, content_type="application/json")
                samples.append(time.process_time() - started)
                assert response.status_code == 200, response.content
            print(f"{name:>24}: {statistics.median(samples) * 1e3:6.3f} ms CPU per request")
    finally:
        api_key.delete()


if __name__ == "__main__":
    main()
