"""Registration stores every value its form accepts, and takes only an
e-mail address the site can mail."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-Passw0rd"
# The longest address User.email stores (254), and one longer.
LONGEST_EMAIL = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
LONGER_EMAIL = LONGEST_EMAIL.replace("@", "@b.")


def register(client, **fields):
    data = {"username": "grace", "email": "grace@example.com", "password1": PASSWORD, "password2": PASSWORD}
    return client.post("/accounts/register/", {**data, **fields})


@pytest.mark.parametrize(
    ("field", "longest", "longer"),
    [("username", "g" * 150, "g" * 151), ("email", LONGEST_EMAIL, LONGER_EMAIL)],
)
def test_the_longest_values_are_stored_and_longer_ones_are_a_form_error(client, field, longest, longer):
    refused = register(client, **{field: longer})
    assert refused.status_code == 200
    assert refused.context["form"].errors[field] == [
        f"Ensure this value has at most {len(longest)} characters (it has {len(longer)})."
    ]
    assert not get_user_model().objects.exists()
    assert register(client, **{field: longest}).status_code == 302
    assert getattr(get_user_model().objects.get(), field) == longest


def test_an_address_mail_cannot_be_sent_to_is_a_form_error(client):
    refused = register(client, email='"a\x01b"@example.com')
    assert refused.status_code == 200
    assert refused.context["form"].errors["email"] == [
        "Mail cannot be sent to this address: use one with no control or other unusual characters."
    ]
    assert not get_user_model().objects.exists()


def test_the_admin_refuses_an_address_mail_cannot_be_sent_to(admin_client, django_user_model):
    user = django_user_model.objects.create_user("grace", "grace@example.com", PASSWORD)
    page = admin_client.get(f"/admin/users/user/{user.pk}/change/")
    data = {**page.context["adminform"].form.initial, "email": '"a\x01b"@example.com'}
    data = {key: value for key, value in data.items() if value is not None and key != "password"}
    data["date_joined_0"], data["date_joined_1"] = user.date_joined.strftime("%Y-%m-%d %H:%M:%S").split()
    refused = admin_client.post(f"/admin/users/user/{user.pk}/change/", data)
    assert refused.status_code == 200
    assert "Mail cannot be sent to this address" in refused.content.decode()
    user.refresh_from_db()
    assert user.email == "grace@example.com"
