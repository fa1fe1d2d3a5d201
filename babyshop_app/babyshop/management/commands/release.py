"""What a deploy runs once, in a one-off container, before new web containers
start (scripts/prod-up.sh): the deploy checks, then the migrations.

The checks come first and need no database, so a release whose settings fail
them changes nothing: the schema stays as the running containers expect it.
The container runs with MIGRATE_ON_START=false, so that its entrypoint does not
migrate before this does.

Nor does a release run as a database superuser: a bug that lets SQL through
would then own the whole server (COPY ... TO PROGRAM runs commands on it).
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Run the deploy checks (a warning fails), then wait for the database and migrate."

    def handle(self, *args, **options):
        call_command("check", deploy=True, fail_level="WARNING")
        call_command("wait_for_db", timeout=settings.DB_WAIT_TIMEOUT)
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
            user, superuser = cursor.fetchone()
        if superuser:
            raise CommandError(
                f"web connects to the database as {user!r}, a superuser: it must own its database and "
                "nothing more. For the db service's volume from before web had a role of its own, run "
                "make prod-db-roles once (on a VM: scripts/db-roles.sh in DEPLOY_PATH); for a database "
                "elsewhere, connect as a role without superuser rights"
            )
        call_command("migrate_locked", verbosity=1)
