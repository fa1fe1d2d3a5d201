import re

import pytest
from django.contrib.auth import get_user_model
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
