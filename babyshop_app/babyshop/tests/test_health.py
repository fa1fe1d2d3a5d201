"""Liveness, readiness, and pages while the database is away."""

import threading
import time

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.urls import path

from babyshop import health


@pytest.fixture(autouse=True)
def fresh_readiness(monkeypatch):
    """Each test starts with no remembered readiness answer."""
    for name, check in (("database_ready", health.database_answers), ("cache_ready", health.cache_answers)):
        monkeypatch.setattr(health, name, health.Readiness(check, health.READYZ_INTERVAL))


@pytest.fixture
def database_down(monkeypatch):
    """Point the connection settings at a port where nothing listens, and drop
    any open connection so that the next query has to reconnect."""
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")


def test_healthz_answers_without_a_database(client):
    # No django_db mark: pytest-django would fail this test on any query.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_ignores_allowed_hosts(client):
    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_readyz_is_503_when_the_database_is_down(client, database_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    # Without CACHE_URL each process caches in its own memory.
    assert response.json() == {"status": "unavailable", "database": "unreachable", "cache": "local"}


@pytest.mark.django_db
def test_readyz_reports_a_shared_cache_that_is_away_but_stays_ok(client, settings):
    settings.CACHE_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": settings.CACHE_URL},
    }
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "unavailable"}


def test_readyz_is_503_when_the_database_refuses_us(client, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", "not-the-password")
    assert client.get("/readyz").status_code == 503


def test_wait_for_db_returns_when_ready(capsys):
    call_command("wait_for_db", timeout=5)
    assert "is ready" in capsys.readouterr().out


def test_wait_for_db_gives_up_after_its_timeout(database_down):
    with pytest.raises(CommandError, match=r"not ready after 1s .*check DATABASE_URL"):
        call_command("wait_for_db", timeout=1, interval=0.2)


def test_wait_for_db_stops_at_once_on_a_wrong_password(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "PASSWORD", "not-the-password")
    with pytest.raises(CommandError, match="password authentication failed") as error:
        call_command("wait_for_db", timeout=30)
    assert "not-the-password" not in str(error.value)


@pytest.mark.django_db(transaction=True)
def test_migrate_locked_applies_nothing_twice(capsys):
    call_command("migrate_locked", verbosity=1)
    out = capsys.readouterr().out
    assert "No migrations to apply." in out
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert cursor.fetchone()[0] == 0, "the lock is released afterwards"


def test_readyz_relayed_by_the_proxy_is_not_found(client):
    """The proxy sets X-Forwarded-For: such a request never reaches the check."""
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED"):
        assert client.get("/readyz", **{header: "203.0.113.9"}).status_code == 404


def test_readyz_checks_the_database_once_for_a_burst(monkeypatch):
    """Twenty concurrent calls open one connection, not twenty: callers share
    the check under way and its answer for READYZ_INTERVAL."""
    calls = []

    def slow_ping(timeout):
        calls.append(timeout)
        time.sleep(0.2)

    monkeypatch.setattr(health, "ping_database", slow_ping)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(health.database_ready())) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [True] * 20
    assert len(calls) == 1


def test_readyz_checks_again_after_its_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(health, "ping_database", calls.append)
    ready = health.Readiness(health.database_answers, interval=0.05)
    ready(), ready()
    time.sleep(0.06)
    ready()
    assert len(calls) == 2


@pytest.fixture
def visit(client, settings):
    """GET path with a session cookie: the page reads the session, so it
    needs the database whatever it shows. (The cookie of no session is
    deleted by the answer, so it is sent afresh each time.)"""

    def get(path="/"):
        client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session"
        return client.get(path)

    return get


# transaction=True: no test transaction around the request, so connections
# close and reopen as they do in a server.
@pytest.mark.django_db(transaction=True)
def test_pages_answer_503_at_once_while_the_database_is_away(visit, database_down):
    started = time.monotonic()
    response = visit()
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response["Retry-After"] == str(health.RETRY_AFTER)
    assert b"cannot reach its database" in response.content


@pytest.mark.django_db(transaction=True)
def test_pages_come_back_with_the_database(visit, monkeypatch):
    assert visit().status_code == 200
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    assert visit().status_code == 503
    monkeypatch.undo()
    assert visit().status_code == 200


def raises_a_bug(request):
    raise OperationalError("a bug, not an outage")


urlpatterns = [path("bug/", raises_a_bug)]


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_other_database_errors_stay_errors(client):
    """A bug that raises OperationalError while the database is fine is a 500,
    not an outage page that would hide it."""
    client.raise_request_exception = False
    assert client.get("/bug/").status_code == 500


@pytest.mark.django_db(transaction=True)
def test_migrate_locked_creates_the_throttles_table():
    """The throttles count in a database cache (settings.CACHES["throttle"]),
    whose table no migration makes."""
    table = settings.CACHES["throttle"]["LOCATION"]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    call_command("migrate_locked", verbosity=0)
    assert table in connection.introspection.table_names()
