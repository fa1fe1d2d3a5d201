"""Log-in throttling (django-axes) for the site's and the admin's log-in forms."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-Passw0rd"
SITE = "/accounts/login/"
ADMIN = "/admin/login/"


@pytest.fixture
def ada(db):
    return get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def password_checks(monkeypatch):
    """Counts every time Django's own backend is asked to check a password."""
    calls = []
    original = ModelBackend.authenticate

    def counted(self, request, username=None, password=None, **kwargs):
        calls.append(username)
        return original(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    return calls


def attempt(client, url, username, password, ip="198.51.100.7"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail_until_locked(client, url, username="ada", ip="198.51.100.7"):
    responses = [attempt(client, url, username, "wrong", ip) for _ in range(5)]
    assert [r.status_code for r in responses[:4]] == [200] * 4, "the form redisplays with its error"
    return responses[-1]


@pytest.mark.parametrize("url", [SITE, ADMIN])
def test_the_fifth_failure_locks_out_with_a_clear_message(client, ada, settings, url):
    assert settings.AXES_FAILURE_LIMIT == 5
    locked = fail_until_locked(client, url)
    assert locked.status_code == 429
    assert b"Too many failed log-in attempts" in locked.content
    assert b"ask the shop's administrator to unlock it" in locked.content


@pytest.mark.parametrize("url", [SITE, ADMIN])
def test_a_locked_out_client_is_refused_without_checking_the_password(client, ada, password_checks, url):
    fail_until_locked(client, url)
    checked = len(password_checks)
    response = attempt(client, url, "ada", PASSWORD)
    assert response.status_code == 429, "even the right password is refused"
    assert len(password_checks) == checked, "no password was hashed"


def test_failures_from_one_address_do_not_lock_the_user_out_from_another(client, ada):
    """Before, five wrong passwords from anywhere locked the username out for
    everyone: anyone could keep the admin out of the site."""
    fail_until_locked(client, ADMIN, ip="203.0.113.1")
    assert attempt(client, ADMIN, "ada", PASSWORD, ip="203.0.113.1").status_code == 429, "the pair is locked"
    assert attempt(client, ADMIN, "ada", PASSWORD, ip="203.0.113.2").status_code == 302


def test_failures_at_one_username_do_not_lock_another_from_the_same_address(client, ada):
    fail_until_locked(client, SITE, username="bob")
    assert attempt(client, SITE, "ada", PASSWORD).status_code == 302


def test_a_success_resets_the_count(client, ada):
    for _ in range(4):
        attempt(client, SITE, "ada", "wrong")
    assert attempt(client, SITE, "ada", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert attempt(client, SITE, "ada", "wrong").status_code == 200


def test_an_administrator_can_unlock_a_username(client, ada):
    fail_until_locked(client, SITE)
    call_command("axes_reset_username", "ada")
    assert attempt(client, SITE, "ada", PASSWORD).status_code == 302


def test_the_address_comes_from_the_proxy_only(client, ada, settings):
    """Behind the proxy every request comes from the proxy's address: the
    client's is its X-Forwarded-For, believed only from FORWARDED_ALLOW_IPS."""
    import ipaddress

    settings.FORWARDED_ALLOW_IPS = [ipaddress.ip_network("172.18.0.0/16")]
    proxied = {"REMOTE_ADDR": "172.18.0.5"}
    for _ in range(5):
        client.post(
            SITE, {"username": "ada", "password": "wrong"}, HTTP_X_FORWARDED_FOR="203.0.113.50", **proxied
        )
    locked = client.post(
        SITE, {"username": "ada", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.50", **proxied
    )
    assert locked.status_code == 429
    other = client.post(
        SITE, {"username": "ada", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.51", **proxied
    )
    assert other.status_code == 302, "another client behind the same proxy is not locked out"
    client.logout()
    # A peer outside FORWARDED_ALLOW_IPS cannot choose its address by header.
    for number in range(5):
        client.post(
            SITE,
            {"username": "ada", "password": "wrong"},
            REMOTE_ADDR="192.0.2.1",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{100 + number}",
        )
    spoofed = client.post(
        SITE,
        {"username": "ada", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.1",
        HTTP_X_FORWARDED_FOR="203.0.113.200",
    )
    assert spoofed.status_code == 429


def test_an_own_log_in_does_not_reset_the_guesses_at_another_account(client, ada):
    """Anyone can register: before, each of their own successful log-ins
    deleted every failure from their address, so guesses at another account
    never reached the limit."""
    get_user_model().objects.create_user("mallory", password=PASSWORD)
    for _ in range(2):
        assert [attempt(client, ADMIN, "ada", "wrong").status_code for _ in range(2)] == [200, 200]
        assert attempt(client, SITE, "mallory", PASSWORD).status_code == 302
        client.logout()
    assert attempt(client, ADMIN, "ada", "wrong").status_code == 429, "the fifth guess at ada"


def test_registering_does_not_reset_the_guesses_either(client, ada):
    for _ in range(4):
        attempt(client, SITE, "ada", "wrong")
    registered = client.post(
        "/accounts/register/",
        {"username": "eve", "email": "eve@example.com", "password1": PASSWORD, "password2": PASSWORD},
        REMOTE_ADDR="198.51.100.7",
    )
    assert registered.status_code == 302
    client.logout()
    assert attempt(client, SITE, "ada", "wrong").status_code == 429
