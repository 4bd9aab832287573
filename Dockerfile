# syntax=docker/dockerfile:1
# Multi-stage: `deps` builds the virtualenv, `venv` trims it to what serving uses, `source`
# drops the tests from the code, `runtime` is the image that serves; `test` adds the dev
# requirements and the tests on top of `runtime`, so CI runs the suite inside the image it ships.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

# Serving needs neither the installers nor the libraries' own test suites and translations
# (LANGUAGE_CODE is en-us). The compiled bytecode stays: without it every process start
# (gunicorn, each manage.py command) compiles Django, numpy, scipy and scikit-learn, about 12 s.
FROM deps AS venv
RUN /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools \
    && find /opt/venv -type d -name tests -path '*/site-packages/*' -prune -exec rm -rf {} + \
    && find /opt/venv -type d -path '*/site-packages/*/locale/*' ! -path '*/locale/*/*' \
         ! -name en ! -name 'en_*' -prune -exec rm -rf {} + \
    && find /opt/venv -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' \) -delete

# The application code without its tests, fixtures and benchmarks (the `test` stage adds them).
FROM ${PYTHON_IMAGE} AS source
WORKDIR /src
COPY . .
RUN find . -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} + \
    && rm -rf fixtures benchmarks conftest.py requirements-dev.txt pyproject.toml README.md \
         Dockerfile Makefile docker-compose.yml .dockerignore .gitignore .env.example

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    GUNICORN_WORKERS=2
# The runtime user and its group share id 10001; it owns only /app/var (downloads, cache).
RUN groupadd --system --gid 10001 movierec \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/movierec movierec
COPY --from=venv /opt/venv /opt/venv
WORKDIR /app
COPY --from=source /src ./
RUN DJANGO_DEBUG=1 python manage.py collectstatic --no-input --verbosity 0 \
    && python -m compileall -q -j 0 accounts catalog movierec recommender ./*.py \
    && install -d -o 10001 -g 10001 -m 0750 /app/var
USER 10001:10001
EXPOSE 8000
# Probes the address in GUNICORN_BIND; /healthz is answered whatever DJANGO_ALLOWED_HOSTS is.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-m", "movierec.healthcheck"]
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "movierec.wsgi"]

FROM runtime AS test
USER 0
COPY requirements.txt requirements-dev.txt ./
# pip was removed from the runtime venv; ensurepip puts it back for this image only. The
# runtime packages are already installed, so pip adds only the dev tools.
RUN python -m ensurepip --default-pip >/dev/null \
    && python -m pip install --no-cache-dir -r requirements-dev.txt
COPY . .
USER 10001:10001
ENV MIGRATE_ON_START=0
CMD ["python", "-m", "pytest", "-p", "no:cacheprovider"]
