"""CPU budget: microseconds of CPU per `POST /api/recommend`, stage by stage, movierec vs reference.

    python benchmarks/cpu_budget.py [--requests 4000] [--rounds 5]

Two in-process measurements per app, each in its own process (so each has its own settings):

- the whole request, uninstrumented: one WSGI call per request (``application(environ, ...)``
  with a varied profile and a valid token), CPU time of the calling thread (median of rounds);
- the same calls with the functions of each stage wrapped in timers that count their *own*
  time (time spent in a wrapped callee is charged to the callee's stage), so the stages add
  up without double counting. "Django + DRF (the rest)" is the uninstrumented total minus
  the stages: request and response objects, URL routing, view dispatch, permissions.

The HTTP server's share is measured separately: gunicorn, under `gunicorn.conf.py` with the
same worker settings as `make loadtest` (gthread, 2 x 4), serving a WSGI app that answers a
constant body, driven by wrk (needs wrk): the server process tree's CPU per request.

movierec runs with production settings: DATABASE_URL (Postgres) and REDIS_URL must be set,
with an active model (`make migrate ingest train`); Prometheus multiprocess files go to a
temporary folder and the JSON access log to a temporary file.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from recommender.ml.profile import GENDERS, OCCUPATIONS  # noqa: E402 (Django-free)

STAGES = (
    "middleware",
    "authentication (JWT)",
    "key state",
    "usage counting",
    "metrics",
    "logging",
    "validation",
    "scoring",
    "rendering",
)
FRAMEWORK = "Django + DRF (the rest)"


class Stages:
    """Own-time accounting for wrapped callables (CPU time of the calling thread)."""

    def __init__(self) -> None:
        self.own: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []

    def wrap(self, owner: Any, name: str, stage: str) -> bool:
        original = getattr(owner, name, None)
        if original is None:
            return False
        clock, stack, own = time.thread_time, self._stack, self.own

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            stack.append(0.0)
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = clock() - started
                own[stage] += elapsed - stack.pop()
                if stack:
                    stack[-1] += elapsed

        setattr(owner, name, timed)
        return True


def _environ(token: str, rng: random.Random) -> dict[str, Any]:
    body = json.dumps(
        {
            "age": rng.randint(7, 80),
            "gender": rng.choice(GENDERS),
            "occupation": rng.choice(OCCUPATIONS),
        }
    ).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/recommend",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _drive(application: Any, token: str, n: int, seed: int) -> float:
    """CPU µs per request of ``n`` WSGI calls; every answer must be a 200."""
    rng = random.Random(seed)
    environs = [_environ(token, rng) for _ in range(n)]
    statuses: list[str] = []
    first_body = b""

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    started = time.thread_time()
    for environ in environs:
        result = application(environ, start_response)
        for chunk in result:
            if not first_body:
                first_body = chunk
        result.close()
    elapsed = time.thread_time() - started
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise RuntimeError(f"{len(bad)} answers were not 200, e.g. {bad[0]} {first_body[:200]!r}")
    return elapsed * 1e6 / n


def _instrument(app: str, stages: Stages) -> None:
    import django.utils.deprecation as deprecation
    from django.core.handlers import base
    from rest_framework import renderers, serializers, views

    stages.wrap(deprecation.MiddlewareMixin, "__call__", "middleware")
    stages.wrap(base.BaseHandler, "_get_response", FRAMEWORK)
    stages.wrap(serializers.Serializer, "is_valid", "validation")
    stages.wrap(renderers.JSONRenderer, "render", "rendering")
    stages.wrap(views.APIView, "finalize_response", "rendering")
    if app == "reference":
        from rest_framework_simplejwt import authentication

        stages.wrap(
            authentication.JWTStatelessUserAuthentication, "authenticate", "authentication (JWT)"
        )
        return
    from accounts import authentication as auth
    from accounts import services
    from movierec import middleware
    from recommender import views as recommend_views

    for name in dir(middleware):
        obj = getattr(middleware, name)
        own_call = isinstance(obj, type) and "__call__" in vars(obj)
        if own_call and obj.__module__ == middleware.__name__:
            stages.wrap(obj, "__call__", "middleware")
    stages.wrap(auth.ApiKeyJWTAuthentication, "authenticate", "authentication (JWT)")
    stages.wrap(auth, "api_key_state", "key state")
    stages.wrap(services, "api_key_record_use", "usage counting")
    stages.wrap(recommend_views, "recommendations_for", "scoring")
    for owner in (middleware, recommend_views):
        for metric in ("REQUESTS", "LATENCY", "RECOMMENDATIONS", "RECOMMENDED_ITEMS"):
            _wrap_metric(owner, metric, stages)
    for method in ("info", "makeRecord", "handle"):
        stages.wrap(middleware.access_log, method, "logging")
    stages.wrap(getattr(middleware, "RequestContextMiddleware", None), "_record", "metrics")


def _wrap_metric(owner: Any, name: str, stages: Stages) -> None:
    metric = getattr(owner, name, None)
    if metric is None:
        return
    if getattr(metric, "_labelnames", ()):
        # Labelled children are new objects: wrap their methods as `labels` hands them out.
        labels, seen = metric.labels, set()

        def labelled(*args: Any, **kwargs: Any) -> Any:
            child = labels(*args, **kwargs)
            if id(child) not in seen:
                seen.add(id(child))
                for method in ("inc", "observe"):
                    if hasattr(child, method):
                        stages.wrap(child, method, "metrics")
            return child

        metric.labels = labelled
        stages.wrap(metric, "labels", "metrics")
        return
    for method in ("inc", "observe"):
        if hasattr(metric, method):
            stages.wrap(metric, method, "metrics")


def measure_in_process(app: str, requests: int, rounds: int, *, instrumented: bool) -> dict:
    """µs per request: the median total of ``rounds`` (uninstrumented), or each stage's own time.

    Run in a child process with the app's settings. Wrapping happens before the WSGI
    application is built, as Django captures its handler's methods when it loads middleware.
    """
    if app == "reference":
        os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.reference.settings"
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = "movierec.settings"
    import django

    django.setup()
    stages = Stages()
    if instrumented:
        _instrument(app, stages)
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    token, key_id = _token(app, str(settings.SIMPLE_JWT["SIGNING_KEY"]))
    try:
        _warm(application, token)
        if not instrumented:
            totals = [_drive(application, token, requests, seed=r + 1) for r in range(rounds)]
            return {"total": statistics.median(totals)}
        stages.own.clear()
        _drive(application, token, requests, seed=99)
    finally:
        if key_id is not None:
            from accounts.models import ApiKey

            ApiKey.objects.filter(pk=key_id).delete()
    return {stage: stages.own.get(stage, 0.0) * 1e6 / requests for stage in STAGES}


def _warm(application: Any, token: str) -> None:
    """Every profile the load asks for, once: the model is loaded and every answer cached."""
    environs = []
    for age in range(7, 81):
        for gender in GENDERS:
            for occupation in OCCUPATIONS:
                environ = _environ(token, random.Random(0))
                body = json.dumps({"age": age, "gender": gender, "occupation": occupation})
                environ["wsgi.input"] = io.BytesIO(body.encode())
                environ["CONTENT_LENGTH"] = str(len(body))
                environs.append(environ)
    for environ in environs:
        application(environ, lambda *args: None).close()


def _token(app: str, secret: str) -> tuple[str, int | None]:
    if app == "reference":
        import jwt

        claims = {"api_key_id": 1, "token_type": "access", "jti": "x", "exp": time.time() + 3600}
        return jwt.encode(claims, secret, algorithm="HS256"), None
    from accounts.services import api_key_create, token_obtain_for_key

    api_key, raw = api_key_create(name="cpu budget")
    return token_obtain_for_key(raw_key=raw).token, api_key.pk


def http_server_us(seconds: int) -> float | None:
    """gunicorn's own CPU per request: a constant WSGI app under the same config, via wrk."""
    from benchmarks import loadtest

    if not __import__("shutil").which("wrk"):
        return None
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")},
        "GUNICORN_WORKER_CLASS": "gthread",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (
        tempfile.TemporaryDirectory() as logs,
        loadtest._gunicorn("constant", "benchmarks.cpu_budget:constant_app", env, Path(logs)) as s,
    ):
        loadtest._wrk(s, "-", 1, 16, 2)
        runs = [loadtest._wrk(s, "-", seconds, 16, 2).cpu_us for _ in range(3)]
    return statistics.median(runs)


def constant_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The least a WSGI app can do: read the body, answer a constant JSON list."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = b'["Star Wars (1977)"]'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "20")])
    return [body]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-seconds", type=int, default=4)
    parser.add_argument("--child", choices=["reference", "movierec"], help=argparse.SUPPRESS)
    parser.add_argument("--instrumented", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["DJANGO_DEBUG"] = "0"
            os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1"
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(tmp) / "prometheus")
            os.environ.setdefault("ACCESS_LOG", "1")
            saved = os.dup(2)
            with open(Path(tmp) / "access.log", "w") as log:
                os.dup2(log.fileno(), 2)  # the JSON lines are written, to a file
                try:
                    result = measure_in_process(
                        args.child, args.requests, args.rounds, instrumented=args.instrumented
                    )
                finally:
                    os.dup2(saved, 2)
        print(json.dumps(result))
        return 0
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get(
        "REDIS_URL"
    ):
        print(
            "set DATABASE_URL=postgres://... and REDIS_URL (production settings)", file=sys.stderr
        )
        return 2
    os.environ.setdefault("DJANGO_SECRET_KEY", "cpu-budget-only-secret-" + "x" * 40)
    columns: dict[str, dict[str, float]] = {"reference": {}, "movierec": {}}
    for app in ("reference", "movierec"):
        for extra in ([], ["--instrumented"]):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    app,
                    "--requests",
                    str(args.requests),
                    "--rounds",
                    str(args.rounds),
                    *extra,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            columns[app].update(json.loads(done.stdout.strip().splitlines()[-1]))
    server = http_server_us(args.http_seconds)
    _print(columns, server, args)
    return 0


def _print(columns: dict[str, dict[str, float]], server: float | None, args: Any) -> None:
    ref, rec = columns["reference"], columns["movierec"]
    print(
        f"CPU µs per POST /api/recommend ({args.requests} requests x {args.rounds} rounds, "
        "in process; HTTP server under gunicorn gthread 2 x 4 with wrk)"
    )
    print()
    print("| stage | reference | movierec |")
    print("| --- | ---: | ---: |")
    if server is not None:
        print(f"| HTTP server (gunicorn, constant app) | {server:.0f} | {server:.0f} |")
    for stage in STAGES:
        print(f"| {stage} | {_cell(ref[stage])} | {_cell(rec[stage])} |")
    rest_ref = ref["total"] - sum(ref[s] for s in STAGES)
    rest_rec = rec["total"] - sum(rec[s] for s in STAGES)
    print(f"| {FRAMEWORK} | {rest_ref:.0f} | {rest_rec:.0f} |")
    extra = server or 0.0
    print(f"| **total** | **{ref['total'] + extra:.0f}** | **{rec['total'] + extra:.0f}** |")
    print()
    print(
        f"in-process total: reference {ref['total']:.0f} µs, movierec {rec['total']:.0f} µs "
        f"({rec['total'] / ref['total']:.2f}x)"
    )


def _cell(value: float) -> str:
    return "—" if value == 0 else f"{value:.0f}" if value >= 1 else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
