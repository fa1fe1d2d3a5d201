"""What a deploy runs once, in a one-off container, before new web containers
start (scripts/prod-up.sh): the deploy checks, then the migrations.

The checks come first and need no database, so a release whose settings fail
them changes nothing: the schema stays as the running containers expect it.
The container runs with MIGRATE_ON_START=false, so that its entrypoint does not
migrate before this does.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the deploy checks (a warning fails), then wait for the database and migrate."

    def handle(self, *args, **options):
        call_command("check", deploy=True, fail_level="WARNING")
        call_command("wait_for_db", timeout=settings.DB_WAIT_TIMEOUT)
        call_command("migrate_locked", verbosity=1)
