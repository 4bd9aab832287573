"""Project wiring: the only settings module. Every knob comes from the environment.

See `.env.example` for the full list with comments. Nothing here reads a `.env` file:
docker-compose passes variables with `env_file`; on a development checkout manage.py fills
in the local ones from `.env.local` (written by make; see movierec.env.load_local_env).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from movierec.env import database_from_url, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", default=False)
TESTING = "pytest" in sys.modules or env_bool("DJANGO_TESTING", default=False)

_secret = env_str("DJANGO_SECRET_KEY")
if not _secret:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=1 (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    # Local development and tests only: stable, so tokens survive a restart.
    _secret = "insecure-development-key-do-not-use-in-production-000000000000"  # noqa: S105
SECRET_KEY: str = _secret

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG or TESTING else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# JSON under /api/ and on the probes, Django's page elsewhere (admin).
CSRF_FAILURE_VIEW = "movierec.guards.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "catalog",
    "accounts",
    "recommender",
]

# The Browser* classes are Django's (and WhiteNoise's) own, skipped on the JSON API and the
# probes (`movierec.middleware.is_api_path`), which need none of them; admin gets them all.
# Sessions, CSRF and X-Frame-Options stay Django's own (the deploy checks look for them by
# name); on the API they cost a few microseconds (lazy session, CSRF-exempt DRF views).
MIDDLEWARE = [
    "movierec.middleware.RequestContextMiddleware",
    # /healthz is answered here, before host validation (see its docstring).
    "movierec.health.LivenessProbeMiddleware",
    # Host, Content-Length and chunked bodies checked before anything reads the body.
    "movierec.guards.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "movierec.middleware.BrowserWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "movierec.middleware.BrowserAuthenticationMiddleware",
    "movierec.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns an admin login lockout into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "movierec.urls"
WSGI_APPLICATION = "movierec.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: the embedded SQLite file unless DATABASE_URL names another (postgres://...).
# Serving processes (gunicorn, runserver) bound every statement; management commands (ingest,
# training) may run long statements and do not.
SERVING = "gunicorn" in sys.modules or sys.argv[1:2] == ["runserver"]
_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {
        "default": database_from_url(
            _database_url,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            connect_timeout=env_float("DATABASE_CONNECT_TIMEOUT", 2.0),
            statement_timeout=env_float("DATABASE_STATEMENT_TIMEOUT", 2.0) if SERVING else 0,
            breaker_seconds=env_float("DATABASE_BREAKER_SECONDS", 1.0),
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: shared by every worker through Redis when REDIS_URL is set (throttles, API-key
# state, the active model version); process-local memory otherwise.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "movierec.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            # Parallel test workers (pytest-xdist) each get their own keys: they share a
            # Redis, and clear() deletes only its own prefix.
            "KEY_PREFIX": (env_str("CACHE_KEY_PREFIX", "movierec") or "movierec")
            + (f"-{os.environ.get('PYTEST_XDIST_WORKER', '')}" if TESTING else ""),
            # Redis is an accelerator: a dead or hung one costs a call at most this long,
            # then the circuit breaker skips it for BREAKER_SECONDS (movierec/cache.py).
            "OPTIONS": {
                "socket_timeout": env_float("REDIS_TIMEOUT_SECONDS", 0.1),
                "BREAKER_SECONDS": env_float("REDIS_BREAKER_SECONDS", 2.0),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "movierec",
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin logins: django-axes locks a username out from one client address after
# AXES_FAILURE_LIMIT failures, for AXES_COOLOFF_MINUTES, before the password is even hashed
# (its backend comes first); every attempt is audited in admin (Axes section).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client address by the same rule as the API throttles (DJANGO_NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "movierec.guards.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False  # no start-up banner, no user agents in the logs
AXES_COOLOFF_MESSAGE = (
    "Too many failed logins for this account from your address: try again in "
    f"{AXES_COOLOFF_TIME.seconds // 60} minutes, or ask another administrator to unlock it "
    "(python manage.py axes_reset_username USERNAME)."
)
# At most this many login attempts per client address, whatever the usernames: each one
# costs a password hash, so guessers rotating usernames cannot starve the API of CPU.
ADMIN_LOGIN_RATE = env_str("ADMIN_LOGIN_RATE", "20/min") or "20/min"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")) or "")

# Request bodies: the API takes small JSON objects; anything bigger is refused with 413.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 16 * 1024, minimum=256)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["movierec.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "movierec.exception_handler.handle",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "authenticate": env_str("AUTH_THROTTLE_RATE", "30/min"),
        "feedback": env_str("FEEDBACK_RATE", "60/min"),
    },
    # Reverse proxies in front of the app whose X-Forwarded-For may be trusted for the client
    # IP the throttles count by; 0 (the default) means REMOTE_ADDR only, so XFF cannot be spoofed.
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 0, minimum=0),
}

# Tokens: HS256 JWTs for an API key (not a Django user), signed with a secret from env.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env_int("JWT_ACCESS_TOKEN_LIFETIME", 3600, minimum=1)
    ),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "api_key_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "LEEWAY": 0,
}
# How long a key's state (revoked/expired) may be served from the cache before re-reading.
API_KEY_STATE_TTL = env_int("API_KEY_STATE_TTL", 5, minimum=1)
# While the database is down, a key state read at most this long ago keeps serving.
API_KEY_STATE_GRACE_SECONDS = env_int("API_KEY_STATE_GRACE_SECONDS", 300, minimum=0)
# Each process writes its counted key uses (last-used, use count) this often (seconds).
API_KEY_USAGE_FLUSH_SECONDS = env_float("API_KEY_USAGE_FLUSH_SECONDS", 1.0)
# The background writer; tests write explicitly (`api_key_usage_flush`) instead.
API_KEY_USAGE_BACKGROUND_FLUSH = not TESTING

# MovieLens: a folder, the zip, or a URL; the default is the official download.
MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MOVIELENS_MD5 = "0e33842e24a9c977be4e0107933c0723"
MOVIELENS_SOURCE = env_str("MOVIELENS_SOURCE") or MOVIELENS_URL
MOVIELENS_CACHE_DIR = Path(env_str("MOVIELENS_CACHE_DIR", str(BASE_DIR / "var" / "cache")) or "")

# Recommender: where the gate sets its bar, and how fast workers see a new active version.
RECOMMENDER_GATE_MARGIN = env_float("RECOMMENDER_GATE_MARGIN", 0.005)
RECOMMENDER_GATE_TOLERANCE = env_float("RECOMMENDER_GATE_TOLERANCE", 0.005)
RECOMMENDER_VERSION_CHECK_SECONDS = env_float("RECOMMENDER_VERSION_CHECK_SECONDS", 2.0)
# POST /api/feedback: people one key may have stored (429 beyond) and how long a person is
# kept after their last rating (`python manage.py purge_feedback` deletes older ones).
FEEDBACK_MAX_PEOPLE_PER_KEY = env_int("FEEDBACK_MAX_PEOPLE_PER_KEY", 10_000, minimum=0)
FEEDBACK_RETENTION_DAYS = env_int("FEEDBACK_RETENTION_DAYS", 365, minimum=1)
# Signs model artifacts (HMAC-SHA256); empty: a key derived from SECRET_KEY (HKDF), so
# rotating DJANGO_SECRET_KEY without setting this makes every stored version refused.
MODEL_SIGNING_KEY = env_str("MODEL_SIGNING_KEY") or ""
# Committed reference figures on ml-100k; a candidate trained on the same data must match them.
RECOMMENDER_BASELINE_FILE = Path(
    env_str("RECOMMENDER_BASELINE_FILE", str(BASE_DIR / "recommender" / "baseline.json")) or ""
)

SPECTACULAR_SETTINGS = {
    "TITLE": "movierec API",
    "DESCRIPTION": "Movie recommendations for a person described by age, gender and occupation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # genres and exclude_genres share one enum of the ml-100k genre names.
    "ENUM_NAME_OVERRIDES": {"GenreEnum": "recommender.ml.features.GENRES"},
}

# HTTPS hardening, driven by env so local runs over plain HTTP still work.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if env_bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOG_LEVEL = (env_str("LOG_LEVEL", "INFO") or "INFO").upper()
# Plain lines for a person at a terminal, JSON lines for a log collector; LOG_FORMAT decides.
LOG_FORMAT = env_str("LOG_FORMAT") or ("plain" if sys.stderr.isatty() else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # {"time", "level", "logger", "request_id", "message", then the extra= fields}
        "json": {"()": "movierec.log.JsonFormatter"},
        "plain": {
            "()": "movierec.log.PlainFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "filters": {"request_id": {"()": "movierec.log.RequestIdFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # runserver's own request lines (4xx at WARNING) would repeat the access line below.
        "django.server": {"level": "CRITICAL"},
        "django.utils.autoreload": {"level": "WARNING"},  # runserver prints it already
        # A client's wrong Host header is its mistake, not the service's: answered 400 and
        # in the access line, not an ERROR with a traceback.
        "django.security.DisallowedHost": {"level": "CRITICAL"},
        # One JSON line per request; ACCESS_LOG=0 silences it (e.g. behind a proxy that logs).
        "movierec.access": {"level": "INFO" if env_bool("ACCESS_LOG", default=True) else "WARNING"},
    },
}
