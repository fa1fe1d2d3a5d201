import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-Passw0rd"


def csrf_token(response):
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content).group(1).decode()


@pytest.fixture
def csrf_client():
    """A client that enforces CSRF like a browser session would."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def shopper(db):
    return get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD)


def test_register_creates_the_account_and_logs_in(csrf_client):
    form = csrf_client.get("/accounts/register/")
    response = csrf_client.post(
        "/accounts/register/",
        {
            "csrfmiddlewaretoken": csrf_token(form),
            "username": "grace",
            "email": "grace@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain == [("/", 302)]
    assert get_user_model().objects.filter(username="grace").exists()
    assert b"Signed in as <strong>grace</strong>" in response.content


def test_register_rejects_mismatched_passwords(client):
    response = client.post(
        "/accounts/register/",
        {"username": "bob", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="bob").exists()


def test_login_shows_who_is_logged_in(csrf_client, shopper):
    form = csrf_client.get("/accounts/login/")
    response = csrf_client.post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": csrf_token(form), "username": "ada", "password": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain == [("/", 302)]
    assert b"Signed in as <strong>ada</strong>" in response.content


def test_login_with_a_wrong_password_fails(client, shopper):
    response = client.post("/accounts/login/", {"username": "ada", "password": "wrong"})
    assert response.status_code == 200
    assert b"Signed in as" not in response.content


def test_login_without_csrf_token_is_refused(csrf_client, shopper):
    response = csrf_client.post("/accounts/login/", {"username": "ada", "password": PASSWORD})
    assert response.status_code == 403


def test_logout_is_post_only(client, shopper):
    client.force_login(shopper)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert b"Signed in as" not in response.content
    assert b"Log in" in response.content


def register(client, username, email, ip="198.51.100.20"):
    data = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    return client.post("/accounts/register/", data, REMOTE_ADDR=ip)


def test_an_address_backs_one_account_whatever_its_letter_case(client, shopper):
    """Before, one address backed several accounts, an upper-case copy
    included, and a password reset mailed each of them."""
    refused = register(client, "ada2", "ADA@example.com")
    assert refused.status_code == 200
    assert "An account with this e-mail address exists already." in refused.text
    assert not get_user_model().objects.filter(username="ada2").exists()


def test_many_accounts_may_have_no_address(client):
    assert register(client, "one", "").status_code == 302
    client.logout()
    assert register(client, "two", "").status_code == 302


def test_sign_ups_are_limited_per_client(client):
    """Before, 10 of 10 rapid sign-ups from one address were accepted."""
    for number in range(10):
        assert register(client, f"user{number}", f"user{number}@example.com").status_code == 302
        client.logout()
    refused = register(client, "user10", "user10@example.com")
    assert refused.status_code == 429
    assert "Too many sign-ups from your network" in refused.text
    assert register(client, "user10", "user10@example.com", ip="198.51.100.21").status_code == 302


def test_the_migration_names_the_addresses_accounts_share(db):
    """A database from before the rule, where accounts share an address, is
    not migrated: the message says which, not PostgreSQL's unique index."""
    call_command("migrate", "users", "0001", verbosity=0)
    User = get_user_model()
    User.objects.bulk_create(
        [User(username="a", email="x@example.com"), User(username="b", email="X@example.com")]
    )
    with pytest.raises(CommandError, match=r"belong to several accounts each: x@example.com\. Give each"):
        call_command("migrate", "users", verbosity=0)
