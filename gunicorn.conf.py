"""gunicorn settings, from the environment (see .env.example)."""

import gc
import os
import shutil
from pathlib import Path

# Each worker serves one request at a time: one BLAS thread each. OpenBLAS threads spin
# while idle, so its default (one per core) in every worker starves the others. Set here,
# before preload_app imports numpy.
for _blas_threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_blas_threads, "1")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# gthread, 2 workers x 4 threads, by measurement (README "Server"): sync workers close every
# connection and serve one request at a time: a quarter of the throughput, a quarter more CPU
# per request; a third worker on 2 cores or 8 threads gained nothing beyond the noise. Slow
# clients are nginx's job (deploy/nginx.conf): a gthread thread is held while its client sends.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Longer than nginx keeps an idle upstream connection (4 s), so nginx, never gunicorn, closes
# it: a connection gunicorn closed just as nginx reuses it would be a 502.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# The app logs one JSON line per request itself; gunicorn's access log would double it.
accesslog = None
errorlog = "-"
# Load the app once in the master, so workers fork with Django set up; each worker then
# loads the active model in post_worker_init, before it takes its first request.
preload_app = True


# Prometheus multiprocess mode: every run starts with an empty samples directory. Done here,
# when the master reads this file, because preload_app imports the metrics before any hook.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    # Database connections must never be shared across a fork.
    from django.conf import settings

    if not settings.configured:  # a WSGI app that is not Django (benchmarks)
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    # A new worker (first start, after a crash, a max_requests recycle or a deploy) loads the
    # active model before it accepts connections, so no request waits for the load.
    from django.apps import apps
    from django.conf import settings

    if settings.configured and apps.ready and apps.is_installed("recommender"):
        from recommender.registry import model_preload

        model_preload()
    # Django, the catalogue and the model are some 180,000 objects that live as long as the
    # worker; a full collection walked them all (over 100 ms with the GIL held, a latency spike
    # for every request in flight). Frozen, collections look only at what requests allocate.
    gc.freeze()


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    # Key uses are counted in process memory and written every second; write the rest now.
    from accounts.usage import flush_at_exit

    flush_at_exit()
