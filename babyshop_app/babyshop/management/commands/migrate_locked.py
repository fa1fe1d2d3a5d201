"""`migrate`, serialised across containers by a PostgreSQL advisory lock.

When several web containers start at once against an empty database, each
entrypoint calls this. The first takes the lock and applies the migrations;
the others wait on the lock, then find nothing left to apply. The lock is tied
to the session, so a container killed mid-way releases it.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# Any fixed 64-bit number, shared by every container of this project.
MIGRATION_LOCK_ID = 0x62616279_73686F70  # "babyshop"


class Command(BaseCommand):
    help = "Apply migrations while holding a PostgreSQL advisory lock."

    def handle(self, *args, **options):
        with connection.cursor() as cursor:
            self.stdout.write("waiting for the migration lock")
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            try:
                call_command("migrate", interactive=False, verbosity=options["verbosity"])
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
