# syntax=docker/dockerfile:1
# Multi-stage: `deps` builds the virtualenv, `runtime` is the image that serves, `test` adds
# the dev requirements on top of `runtime` so CI runs the suite inside the image it ships.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    GUNICORN_WORKERS=2
RUN useradd --system --uid 10001 --create-home --home-dir /home/movierec movierec
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=10001:10001 . .
RUN DJANGO_DEBUG=1 python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"]

FROM runtime AS test
USER 0
RUN pip install --no-cache-dir -r requirements-dev.txt
USER 10001
ENV MIGRATE_ON_START=0
CMD ["python", "-m", "pytest"]
