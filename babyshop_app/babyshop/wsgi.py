"""WSGI entry point for gunicorn: `gunicorn babyshop.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

from babyshop.config import reported

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "babyshop.settings")

# A WSGI server would print a traceback per worker and keep restarting them;
# one line and a non-zero exit make the mistake plain.
with reported():
    application = get_wsgi_application()
