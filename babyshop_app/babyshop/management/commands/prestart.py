"""What every container does before its command (entrypoint.sh).

Loading the settings checks every environment variable, gunicorn's included,
so a bad value stops the container here with its one-line message; so does a
media bucket (MEDIA_STORAGE=s3) that is missing or refuses the keys. Then,
unless MIGRATE_ON_START is false (one-off commands): wait for the database
(DB_WAIT_TIMEOUT) and apply the migrations under the advisory lock. One
Python process for all of it.

Given a gunicorn command line (entrypoint.sh passes web's), gunicorn then
runs in this same process, which has started Django already (docs/image.md,
"At every start", says why).
"""

import argparse
import logging
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections
from gunicorn.app.wsgiapp import run

from babyshop import logs


class Command(BaseCommand):
    help = "Check the settings, wait for the database and migrate, as configured; then run gunicorn if given."

    def add_arguments(self, parser):
        parser.add_argument("gunicorn", nargs=argparse.REMAINDER, help="gunicorn and its arguments: run next")

    def handle(self, *args, gunicorn, **options):
        if settings.MEDIA_STORAGE == "S3":
            from babyshop import buckets  # boto3 is loaded only when used

            buckets.check()
        if settings.MIGRATE_ON_START:
            # What these commands print goes to the log, in LOG_FORMAT.
            log = logging.getLogger("babyshop.start")
            with logs.LineLog(log) as stdout, logs.LineLog(log, logging.WARNING) as stderr:
                call_command("wait_for_db", timeout=settings.DB_WAIT_TIMEOUT, stdout=stdout, stderr=stderr)
                call_command("migrate_locked", verbosity=1, stdout=stdout, stderr=stderr)
                # demo: start
                if settings.SEED_DEMO:
                    call_command("seed_demo", stdout=stdout, stderr=stderr)
                # demo: end
        if gunicorn:
            connections.close_all()  # its workers, forked from this process, open their own
            sys.argv = gunicorn
            run()
