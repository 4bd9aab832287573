"""Project wiring: the WSGI entry point (gunicorn movierec.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")

application = get_wsgi_application()
