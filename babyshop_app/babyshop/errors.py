"""Error reports (docs/operations.md): with SENTRY_DSN set, web and the worker
send their errors to Sentry, or to any service speaking its protocol
(GlitchTip, ...), through the official SDK.

What is sent: unhandled exceptions in views (the SDK's Django integration),
and every record logged at ERROR with its traceback, the worker's failed
tasks among them (its logging integration). Tagged with the release (the
image's git revision, REVISION) and the environment (SENTRY_ENVIRONMENT).

What is not: personal data. No user, IP address, cookie, request body, query
string or local variable's value (data_collection), and a URL's secrets (a
password-reset token) masked as in the logs. Performance traces only if asked for
(SENTRY_TRACES_SAMPLE_RATE, 0 by default).
"""

import logging
from urllib.parse import urlsplit, urlunsplit

import sentry_sdk
from django.urls import Resolver404, resolve
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger

from babyshop.logs import masked_path

# Headers that name the client (its address, through the proxy) or a user,
# beside those the SDK always filters (cookies, authorization, tokens, ...).
PERSONAL_HEADERS = ["forwarded", "-ip", "remote-", "via", "-user"]


def init(dsn, environment, release, traces_sample_rate):
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        # Who, their cookies, their forms, their query strings, the values
        # of local variables (an order's address): none of it.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "denylist", "terms": PERSONAL_HEADERS}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
        },
        traces_sample_rate=traces_sample_rate,
        before_send=_without_secrets,
        integrations=[DjangoIntegration(), LoggingIntegration(event_level=logging.ERROR)],
    )
    # Its line on a task's last failure repeats the worker's, which has the
    # attempt and, on the first failure, the traceback.
    ignore_logger("django.tasks")


def _without_secrets(event, hint):
    """The request's URL without its query string, and its secret path
    arguments masked (SECRET_URL_ARGUMENTS)."""
    request = event.get("request")
    if request and request.get("url"):
        url = urlsplit(request["url"])
        try:
            path = masked_path(url.path, resolve(url.path))
        except Resolver404:
            path = url.path
        request["url"] = urlunsplit((url.scheme, url.netloc, path, "", ""))
        request.pop("query_string", None)
    return event
