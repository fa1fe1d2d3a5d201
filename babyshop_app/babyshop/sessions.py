"""Django's database sessions, read with one plain query.

A session is read on every request of a visitor who has one (a cart, a
log-in). Through the ORM that read cost about 0.5 ms of CPU, a quarter of a
logged-in catalog page; the same SELECT written out costs under a tenth of
that (docs/performance.md). Everything else (writes, expiry, clearsessions,
the table) is Django's, unchanged: SESSION_ENGINE = "babyshop.sessions".
"""

import functools

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        if not self.session_key:  # (None for a key too short to be one)
            return None
        using = router.db_for_read(self.model)
        with connections[using].cursor() as cursor:
            cursor.execute(_select(using), [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's: a new key once saved
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])


@functools.cache
def _select(using):
    quote = connections[using].ops.quote_name
    meta = db.SessionStore.get_model_class()._meta
    column = {field.name: quote(field.column) for field in meta.fields}
    # The names come from the model's metadata, quoted; the values are parameters.
    return (
        f"SELECT {column['session_data']}, {column['expire_date']} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {column['session_key']} = %s AND {column['expire_date']} > %s"
    )
