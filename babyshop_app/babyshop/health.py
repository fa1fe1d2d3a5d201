"""Liveness, readiness and what pages do while the database is away.

/healthz  the process answers; touches nothing else (Docker HEALTHCHECK).
/readyz   one round trip to the database on a fresh connection bounded by
          READYZ_TIMEOUT seconds; 503 when it fails. Also one to the shared
          cache (with CACHE_URL set), reported but never a reason for 503: only
          the pages with cached fragments need it. For checks from inside the
          stack only: a request relayed by the proxy gets 404. Each process
          checks at most once per READYZ_INTERVAL and one check at a time, so
          a flood of /readyz cannot become a flood of connections.

Served by a middleware placed first, so that neither ALLOWED_HOSTS nor an
HTTPS redirect stands between a healthcheck on 127.0.0.1 and the answer.
"""

import logging
import threading
import time

import psycopg
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, HttpResponseNotFound, JsonResponse
from django.template.loader import render_to_string
from redis.exceptions import RedisError

from babyshop.proxy import came_through_proxy

logger = logging.getLogger(__name__)

READYZ_TIMEOUT = 2
READYZ_INTERVAL = 1.0
# Seconds a client is asked to wait before retrying while the database is away.
RETRY_AFTER = 5


def ping_database(timeout):
    """Run one query on a new connection, bounded by timeout seconds.

    Raises psycopg.Error when the database is unreachable or refuses us.
    """
    params = connection.get_connection_params()
    params["connect_timeout"] = timeout
    params["options"] = f"-c statement_timeout={timeout * 1000}"
    with psycopg.connect(**params) as conn:
        conn.execute("SELECT 1")


def database_answers():
    try:
        ping_database(READYZ_TIMEOUT)
    except psycopg.Error as exc:
        logger.warning("readyz: database unavailable: %s", type(exc).__name__)
        return False
    return True


def cache_answers():
    """One round trip to the cache, bounded by its socket timeouts (settings.py)."""
    try:
        cache.has_key("readyz")
    except RedisError as exc:
        logger.warning("readyz: cache unavailable: %s", type(exc).__name__)
        return False
    return True


class Readiness:
    """A dependency's state, checked at most once per interval per process."""

    def __init__(self, check, interval):
        self.check = check
        self.interval = interval
        self.lock = threading.Lock()
        self.checked_at = None
        self.ready = False

    def __call__(self):
        # Concurrent callers wait for the one check under way (at most
        # READYZ_TIMEOUT seconds) and share its answer.
        with self.lock:
            now = time.monotonic()
            if self.checked_at is None or now - self.checked_at >= self.interval:
                self.ready = self.check()
                self.checked_at = time.monotonic()
            return self.ready


database_ready = Readiness(database_answers, READYZ_INTERVAL)
cache_ready = Readiness(cache_answers, READYZ_INTERVAL)


def cache_state():
    if not settings.CACHE_URL:
        return "local"  # each process's own memory: nothing to reach
    return "ok" if cache_ready() else "unavailable"


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            if came_through_proxy(request):
                return HttpResponseNotFound()
            if database_ready():
                return JsonResponse({"status": "ok", "database": "ok", "cache": cache_state()})
            return JsonResponse(
                {"status": "unavailable", "database": "unreachable", "cache": cache_state()}, status=503
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A view that cannot reach the database answers 503 with Retry-After.

    The connection error comes within DB_CONNECT_TIMEOUT seconds; Django drops
    the broken connection at the end of the request and CONN_HEALTH_CHECKS
    makes the next request reconnect, so pages come back on their own once
    the database does. The page is rendered without a request context:
    its context processors would query the database again.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # Connection-level errors only, and only while the connection is
        # really gone: a bug that raises OperationalError stays a 500.
        if not isinstance(exception, (OperationalError, InterfaceError)) or connection.is_usable():
            return None
        reason = str(exception).strip().splitlines()
        logger.warning("database unavailable: %s", reason[-1] if reason else type(exception).__name__)
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER)
        return response
