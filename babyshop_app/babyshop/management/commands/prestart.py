"""What every container does before its command (entrypoint.sh).

Loading the settings checks every environment variable, gunicorn's included,
so a bad value stops the container here with its one-line message. Then,
unless MIGRATE_ON_START is false (one-off commands): wait for the database
(DB_WAIT_TIMEOUT) and apply the migrations under the advisory lock (and load
the demo catalog if SEED_DEMO is true). One Python process for all of it.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Check the settings, then wait for the database and migrate, as configured."

    def handle(self, *args, **options):
        if not settings.MIGRATE_ON_START:
            return
        call_command("wait_for_db", timeout=settings.DB_WAIT_TIMEOUT)
        call_command("migrate_locked", verbosity=1)
        # demo: start
        if settings.SEED_DEMO:
            call_command("seed_demo")
        # demo: end
