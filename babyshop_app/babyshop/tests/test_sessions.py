"""Sessions are Django's own, in the database: every web container reads the
same ones, and the daily job clears the expired (test_schedule.py)."""

from django.conf import settings


def test_the_engine_is_djangos_database_sessions():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
