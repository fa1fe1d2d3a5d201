"""Liveness and readiness endpoints for container healthchecks and proxies.

/healthz  the process answers; touches nothing else (Docker HEALTHCHECK).
/readyz   one round trip to the database on a fresh connection bounded by
          READYZ_TIMEOUT seconds; 503 when it fails.

Served by a middleware placed first, so that neither ALLOWED_HOSTS nor an
HTTPS redirect stands between a healthcheck on 127.0.0.1 and the answer.
"""

import logging

import psycopg
from django.db import connection
from django.http import JsonResponse

logger = logging.getLogger(__name__)

READYZ_TIMEOUT = 2


def ping_database(timeout):
    """Run one query on a new connection, bounded by timeout seconds.

    Raises psycopg.Error when the database is unreachable or refuses us.
    """
    params = connection.get_connection_params()
    params["connect_timeout"] = timeout
    params["options"] = f"-c statement_timeout={timeout * 1000}"
    with psycopg.connect(**params) as conn:
        conn.execute("SELECT 1")


def database_ready():
    """True when PostgreSQL answers a query within READYZ_TIMEOUT seconds."""
    try:
        ping_database(READYZ_TIMEOUT)
    except psycopg.Error as exc:
        logger.warning("readyz: database unavailable: %s", type(exc).__name__)
        return False
    return True


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            if database_ready():
                return JsonResponse({"status": "ok", "database": "ok"})
            return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
        return self.get_response(request)


class QuietHealthchecks(logging.Filter):
    """Drop runserver's log line for /healthz (the dev healthcheck polls it)."""

    def filter(self, record):
        return '"GET /healthz ' not in record.getMessage()
