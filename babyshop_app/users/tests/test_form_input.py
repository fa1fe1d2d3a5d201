"""Whatever a client puts in a form field is a form error, never a 500: over-long
values on every log-in and registration form, the admin's included."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-Passw0rd"
LENGTHS = [256, 1_000, 100_000]
FORMS = {
    "site log-in": ("/accounts/login/", ["username", "password"]),
    "admin log-in": ("/admin/login/", ["username", "password"]),
    "registration": ("/accounts/register/", ["username", "email", "password1", "password2"]),
}


def valid(fields):
    values = {"username": "grace", "email": "grace@example.com", "password": "wrong"}
    return {name: values.get(name, PASSWORD) for name in fields}


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("form", FORMS)
def test_over_long_values_are_form_errors(client, form, length):
    url, fields = FORMS[form]
    for field in fields:
        data = {**valid(fields), field: "x" * length}
        response = client.post(url, data, REMOTE_ADDR=f"198.51.100.{len(field)}")
        assert response.status_code in (200, 429), (field, response.status_code)
        if response.status_code == 200:
            assert b"errorlist" in response.content or b"errornote" in response.content, field
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_an_over_long_user_name_from_a_locked_out_client_gets_429(client, url):
    for _ in range(4):
        client.post(url, {"username": "x" * 1_000, "password": "wrong"})
    response = client.post(url, {"username": "x" * 1_000, "password": "wrong"})
    assert response.status_code == 429
