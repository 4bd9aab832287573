"""The bare reference's WSGI entry point (gunicorn benchmarks.reference.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.reference.settings"

application = get_wsgi_application()
