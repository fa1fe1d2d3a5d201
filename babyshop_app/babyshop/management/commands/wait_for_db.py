"""Wait until PostgreSQL answers a real query, then exit 0.

An open TCP port is not a ready database (it may still be initialising or
recovering), so this runs `SELECT 1` over a real connection. Errors that
waiting cannot fix (wrong password, unknown database) stop at once; the
others are retried until the timeout, then reported in one line.
"""

import time

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from babyshop.health import ping_database

# What no amount of waiting fixes: bad credentials, no such database. Matched
# by SQLSTATE, or by the server's message when libpq reports a failed
# connection attempt without one (as when it tried several addresses).
FATAL_ERRORS = [
    (
        "28P01",
        "password authentication failed",
        "password authentication failed: check the database password",
    ),
    ("28000", "no pg_hba.conf entry", "the database refused this user: check the user in DATABASE_URL"),
    ("3D000", "does not exist", "the database or user does not exist: check DATABASE_URL"),
]


def fatal_reason(exc):
    message = str(exc)
    for sqlstate, text, reason in FATAL_ERRORS:
        if exc.sqlstate == sqlstate or text in message:
            return reason
    return None


class Command(BaseCommand):
    help = "Wait until the database answers a query (bounded by --timeout)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60, help="seconds to wait in all")
        parser.add_argument("--interval", type=float, default=0.25, help="seconds between tries")

    def handle(self, *args, timeout, interval, **options):
        target = "{HOST}:{PORT}/{NAME}".format(
            **{k: connection.settings_dict[k] or "-" for k in ("HOST", "PORT", "NAME")}
        )
        deadline = time.monotonic() + timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                ping_database(timeout=max(1, min(5, int(timeout))))
            except psycopg.OperationalError as exc:
                fatal = fatal_reason(exc)
                if fatal:
                    raise CommandError(f"database {target}: {fatal}") from None
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                if time.monotonic() + interval > deadline:
                    raise CommandError(
                        f"database {target} not ready after {timeout:g}s ({attempt} tries; "
                        f"last error: {reason}): check DATABASE_URL and that the database is running"
                    ) from None
                if attempt == 1:
                    self.stderr.write(f"waiting for database {target} (up to {timeout:g}s)")
                time.sleep(interval)
            else:
                self.stdout.write(f"database {target} is ready")
                return
