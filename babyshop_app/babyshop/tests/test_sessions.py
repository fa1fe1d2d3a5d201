"""The session engine (babyshop/sessions.py): Django's database sessions,
read with one plain query, against the real PostgreSQL."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from babyshop.sessions import SessionStore

pytestmark = pytest.mark.django_db


def saved(**data):
    session = SessionStore()
    session.update(data)
    session.save()
    return session.session_key


def test_it_is_the_configured_engine():
    assert settings.SESSION_ENGINE == "babyshop.sessions"


def test_a_saved_session_reads_back_whole():
    key = saved(cart={"1": 2}, note="é")
    session = SessionStore(key)
    assert dict(session.items()) == {"cart": {"1": 2}, "note": "é"}
    assert session.session_key == key


def test_an_expired_session_reads_as_empty_and_gets_a_new_key_when_saved():
    key = saved(cart={"1": 2})
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    session = SessionStore(key)
    assert dict(session.items()) == {}
    session["cart"] = {"3": 1}
    session.save()
    assert session.session_key != key, "a visitor never gets back an expired session's key"


@pytest.mark.parametrize("key", ["unknown-but-long-enough", "short", None])
def test_an_unknown_or_malformed_key_reads_as_empty(key):
    session = SessionStore(key)
    assert dict(session.items()) == {}
    assert session.session_key is None


def test_a_tampered_row_reads_as_empty():
    key = saved(cart={"1": 2})
    Session.objects.filter(session_key=key).update(session_data="not-signed-by-us")
    assert dict(SessionStore(key).items()) == {}
