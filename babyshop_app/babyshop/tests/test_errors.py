"""Error reports (babyshop/errors.py): what the real Sentry SDK sends, as a
Sentry server receives it, from a view and from a task; nothing without a
DSN, and nothing personal or secret with one."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.tasks import task
from django.test import Client, RequestFactory
from django.urls import path

from babyshop import errors
from babyshop.tests.test_config import assert_config_error, manage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]
RELEASE = "0123456789abcdef0123456789abcdef01234567"


def broken(request, token):
    raise ZeroDivisionError("a bug in a view")


urlpatterns = [path("broken/<token>/", broken)]


@task()
def broken_task():
    raise LookupError("a bug in a task")


class Envelopes(BaseHTTPRequestHandler):
    """A Sentry server's envelope endpoint, keeping every event it is sent."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        elif self.headers.get("Content-Encoding") == "br":
            import brotli  # (the SDK compresses with it when it is installed)

            body = brotli.decompress(body)
        self.server.received.append((self.path, self.headers.get("X-Sentry-Auth", ""), events(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def events(envelope):
    """The event items of a Sentry envelope (a header line, then each item: a
    header line and its payload, of the length it gives or up to a newline).
    Its other items (sessions, client reports) are left out."""
    found, rest = [], envelope.split(b"\n", 1)[1]
    while rest.strip():
        header, rest = rest.split(b"\n", 1)
        item = json.loads(header)
        if "length" in item:
            payload, rest = rest[: item["length"]], rest[item["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        if item["type"] == "event":
            found.append(json.loads(payload))
    return found


@pytest.fixture
def sentry():
    """A Sentry server on a free port; init(dsn) points the SDK at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Envelopes)
    server.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://public-key@127.0.0.1:{server.server_port}/42"

    def received():
        sentry_sdk.flush(timeout=10)
        return server.received

    yield type("Sentry", (), {"dsn": dsn, "received": staticmethod(received)})
    sentry_sdk.init()  # no DSN: off again
    server.shutdown()


def served(path, cookie=""):
    """The status of a GET of path as gunicorn has it served: through
    Django's WSGI handler, which the SDK hooks (the test client's is not)."""
    environ = RequestFactory().get(path, HTTP_COOKIE=cookie, HTTP_X_FORWARDED_FOR="203.0.113.9").environ
    status = []
    b"".join(WSGIHandler()(environ, lambda line, headers, *exc: status.append(line)))
    return status[0]


def test_a_views_exception_is_reported_with_the_release_and_nothing_personal(sentry, settings):
    errors.init(sentry.dsn, "staging", RELEASE, 0.0)
    user = get_user_model().objects.create_user("grace-hopper", "grace@example.com", "a-long-enough-Passw0rd")
    browser = Client()
    browser.force_login(user)
    session = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    assert served("/broken/s3cr3t-t0ken/?email=grace@example.com", session).startswith("500")
    received = sentry.received()
    assert {(where, auth.split(", ")[0]) for where, auth, _ in received} == {
        ("/api/42/envelope/", "Sentry sentry_key=public-key")
    }
    (event,) = [event for *_, sent in received for event in sent]
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    assert (event["release"], event["environment"]) == (RELEASE, "staging")
    assert event["request"]["url"] == "http://testserver/broken/[secret]/"
    assert event["request"]["method"] == "GET"
    sent = json.dumps(event)
    for personal in (
        "grace",
        "s3cr3t-t0ken",
        browser.cookies[settings.SESSION_COOKIE_NAME].value,
        "203.0.113.9",
    ):
        assert personal not in sent, personal


def test_a_tasks_exception_is_reported_by_the_worker(sentry, settings, run_tasks):
    settings.TASK_MAX_ATTEMPTS = 1
    errors.init(sentry.dsn, "production", RELEASE, 0.0)
    broken_task.enqueue()
    run_tasks()
    (event,) = [event for *_, sent in sentry.received() for event in sent]
    assert event["exception"]["values"][-1]["type"] == "LookupError"
    assert event["logger"] == "babyshop.worker"
    assert event["release"] == RELEASE


def test_without_a_dsn_nothing_is_sent(sentry, run_tasks):
    errors.init(None, "production", RELEASE, 0.0)
    assert served("/broken/x/").startswith("500")
    broken_task.enqueue()
    run_tasks()
    assert sentry.received() == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sentry.example.com", "SENTRY_DSN has scheme '(none)'"),
        ("https://o1.ingest.sentry.io/42", "SENTRY_DSN lacks its key (https://KEY@...)"),
        ("https://k3y@o1.ingest.sentry.io/", "SENTRY_DSN lacks its project number at the end of the path"),
    ],
)
def test_a_bad_dsn_is_one_line_without_its_key(value, message):
    result = manage("check", SENTRY_DSN=value)
    assert_config_error(result, message)
    assert "k3y" not in result.stderr
