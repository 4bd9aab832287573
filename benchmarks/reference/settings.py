"""The bare reference's settings: its own, not the service's with parts switched off.

One DRF view (`benchmarks.reference.urls`) that validates the same body as `/api/recommend`
with a plain serializer and authenticates a stateless HS256 JWT with simplejwt, behind only
Security and Common middleware: no database or cache per request, no logging, no metrics.
`make loadtest` runs it under the service's own gunicorn config as the yardstick.

It signs and reads tokens with the same key and claim as the service (``JWT_SIGNING_KEY``,
else ``DJANGO_SECRET_KEY``; claim ``api_key_id``), so one token drives both.
"""

import os

DEBUG = False
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "reference-only-secret-not-for-serving-0000000"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

# contenttypes and auth only because simplejwt's TokenUser imports auth's models.
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "benchmarks.reference.urls"
WSGI_APPLICATION = "benchmarks.reference.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
USE_I18N = False
LOGGING_CONFIG = None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "api_key_id",
    "LEEWAY": 0,
}
