"""`migrate` (and `createcachetable`), serialised across containers by a PostgreSQL advisory lock.

When several web containers start at once against an empty database, each
entrypoint calls this. The first takes the lock and applies the migrations;
the others wait on the lock, then find nothing left to apply. The lock is tied
to the session, so a container killed mid-way releases it.
"""

import hashlib

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

# A 64-bit number shared by every container of this project and by no other
# project on the same PostgreSQL server: derived from the project package's
# name, so that `make rename` gives a renamed copy a lock of its own.
PROJECT = __name__.split(".", 1)[0]
MIGRATION_LOCK_ID = int.from_bytes(hashlib.blake2b(PROJECT.encode(), digest_size=8).digest(), signed=True)


class Command(BaseCommand):
    help = "Apply migrations while holding a PostgreSQL advisory lock."

    def handle(self, *args, **options):
        with connection.cursor() as cursor:
            self.stdout.write("waiting for the migration lock")
            cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
            try:
                # The streams this command was given (prestart's: the log), as
                # they are: a wrapper of them would end every write with a newline.
                output = {name: options[name] for name in ("stdout", "stderr") if options.get(name)}
                call_command("migrate", interactive=False, verbosity=options["verbosity"], **output)
                # The tables of database caches (settings.CACHES: the throttles' counters).
                call_command("createcachetable", verbosity=options["verbosity"], **output)
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
