"""WSGI entry point for gunicorn: `gunicorn babyshop.wsgi`."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from babyshop.config import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "babyshop.settings")

try:
    application = get_wsgi_application()
except ConfigError as exc:
    # gunicorn would print a traceback per worker and keep restarting them;
    # one line and a non-zero exit make the mistake plain.
    sys.exit(f"configuration error: {exc}")
