import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection


@pytest.fixture
def database_down(monkeypatch):
    """Point the connection settings at a port where nothing listens."""
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
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


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
