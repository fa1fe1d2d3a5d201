"""Password reset: the mail goes through the worker, and its link works once."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann():
    return get_user_model().objects.create_user("ann", "ann@example.com", "old-passw0rd-long")


def test_the_reset_link_arrives_by_mail_and_sets_a_new_password(client, ann, queued_mail, run_tasks):
    assert "Forgot your password?" in client.get("/accounts/login/").text
    response = client.post("/accounts/password-reset/", {"email": "ann@example.com"})
    assert response.status_code == 302
    assert mail.outbox == [], "sent by the page instead of the worker"
    run_tasks()

    (message,) = mail.outbox
    assert message.recipients() == ["ann@example.com"]
    assert message.subject == "Reset your babyshop password"
    parsed = message.message()
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    link = re.search(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)", text).group(1)
    assert f'href="http://testserver{link}"' in html
    assert "old-passw0rd-long" not in text + html

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.text
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "new-passw0rd-long", "new_password2": "new-passw0rd-long"},
    )
    assert done.status_code == 302
    logged_in = client.post("/accounts/login/", {"username": "ann", "password": "new-passw0rd-long"})
    assert logged_in.status_code == 302
    assert "This link no longer works" in client.get(link, follow=True).text


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, queued_mail, run_tasks):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"}, follow=True)
    assert "Check your mail" in response.text
    run_tasks()
    assert mail.outbox == []
