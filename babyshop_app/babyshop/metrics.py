"""Prometheus metrics of web and the worker (docs/monitoring.md).

Off unless METRICS_PORT is set (MONITORING=true in the env file sets it):
then each container serves its metrics over plain HTTP on that port, an
address the proxy never routes to (Caddy passes requests to web's PORT only),
so only the services on the stack's private networks can read them.

- web: gunicorn's workers are separate processes, each updating the values
  of the requests it answers as it answers them. prometheus_client's
  multiprocess mode keeps them in files (PROMETHEUS_MULTIPROC_DIR, set up
  by apps.py before anything imports the client), and gunicorn's master
  serves their sum (serve_web).
- the worker serves its own values, with the queue and the last backup read
  from the database at each scrape (serve_worker).

Labels are bounded: the view is the URL's name (or pattern), never the path;
an unknown method counts as "other".
"""

import socket
import ssl
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Case, Count, F, Min, When
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from babyshop.models import Backup

# The proxy's HTTPS address, as web finds it on the stack's network.
PROXY_HTTPS = ("proxy", 443)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: from a cached page (under a millisecond) to a slow upload.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "babyshop_http_requests",
    "Requests answered by Django, by view, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "babyshop_http_request_duration_seconds",
    "Time from a request reaching Django to its response, by view.",
    ["view"],
    buckets=LATENCY_BUCKETS,
)
QUERIES = Counter("babyshop_db_queries", "Database queries made while answering requests.")
QUERY_TIME = Counter("babyshop_db_query_seconds", "Time spent in database queries while answering requests.")
TASK_ATTEMPTS = Counter(
    "babyshop_task_attempts",
    "Attempts at tasks, by task and outcome: succeeded, retried (failed, tried again later) or failed.",
    ["task", "outcome"],
)
TASK_DURATION = Histogram(
    "babyshop_task_duration_seconds",
    "Time of each attempt at a task, by task.",
    ["task"],
    buckets=LATENCY_BUCKETS,
)


class MetricsMiddleware:
    """Counts and times each request Django answers, and its queries. After
    the request log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        queries = QueryTimer()
        with connection.execute_wrapper(queries):
            response = self.get_response(request)  # (an exception in a view is a response by now)
        # "none": answered before a URL was resolved (a 404, a bad host, a redirect).
        match = request.resolver_match
        view = (match.view_name or match.route) if match else "none"
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(view, method, response.status_code).inc()
        LATENCY.labels(view).observe(time.perf_counter() - started)
        QUERIES.inc(queries.count)
        QUERY_TIME.inc(queries.seconds)
        return response


class QueryTimer:
    """The execute wrapper of a request's queries: their count and time,
    added to the metrics once, at the request's end (docs/monitoring.md)."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


def task_attempt(task_path, outcome, seconds):
    """The worker finished an attempt at a task (babyshop/management/commands/worker.py)."""
    TASK_ATTEMPTS.labels(task_path, outcome).inc()
    TASK_DURATION.labels(task_path).observe(seconds)


class DatabaseCollector:
    """The task queue and the last backup as they are at each scrape, read by
    the worker's metrics thread: so a worker stuck in a long task still
    reports a queue that grows."""

    def __init__(self, queues):
        self.queues = queues

    def collect(self):
        waiting = GaugeMetricFamily(
            "babyshop_tasks_waiting", "Tasks due and waiting for a worker, by queue.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "babyshop_task_oldest_waiting_seconds",
            "How long the task that has been due longest has waited (0: none waits), by queue.",
            labels=["queue"],
        )
        failed = GaugeMetricFamily(
            "babyshop_tasks_failed",
            "Tasks that failed for good, kept until retried in the admin (or pruned), by queue.",
            labels=["queue"],
        )
        now = timezone.now()
        # A ready task's run_after is either past (its time came) or far in
        # the future (none was asked for): then it has been due since enqueued.
        due = Case(When(run_after__lte=now, then=F("run_after")), default=F("enqueued_at"))
        try:
            ready = {
                row["queue_name"]: row
                for row in DBTaskResult.objects.ready()
                .values("queue_name")
                .annotate(count=Count("id"), since=Min(due))
            }
            failures = dict(
                DBTaskResult.objects.failed()
                .values("queue_name")
                .annotate(count=Count("id"))
                .values_list("queue_name", "count")
            )
            backup = Backup.objects.order_by("-finished_at").first()
        except DatabaseError:
            return  # no figures: the worker's own log says the database cannot be read
        finally:
            connection.close()  # this scrape's thread's own connection
        for queue in sorted(set(self.queues) | set(ready) | set(failures)):
            row = ready.get(queue, {"count": 0, "since": now})
            waiting.add_metric([queue], row["count"])
            oldest.add_metric([queue], max((now - row["since"]).total_seconds(), 0))
            failed.add_metric([queue], failures.get(queue, 0))
        yield from (waiting, oldest, failed)
        if backup is not None:
            yield GaugeMetricFamily(
                "babyshop_backup_last_success_timestamp_seconds",
                "When the last good backup (scripts/backup.sh) ended, in seconds since 1970.",
                value=backup.finished_at.timestamp(),
            )
            yield GaugeMetricFamily(
                "babyshop_backup_last_size_bytes",
                "The size of the last good backup.",
                value=backup.size_bytes,
            )


class CertificateCollector:
    """The certificate the proxy serves for the site's name, checked at each
    scrape as a browser checks it (trusted, for that name, in date):
    babyshop_tls_certificate_valid, and its expiry when it is valid."""

    def __init__(self, address, hostname, cafile=None):
        self.address, self.hostname, self.cafile = address, hostname, cafile

    def collect(self):
        context = ssl.create_default_context(cafile=self.cafile)
        try:
            with (
                socket.create_connection(self.address, timeout=5) as raw,
                context.wrap_socket(raw, server_hostname=self.hostname) as tls,
            ):
                expiry = ssl.cert_time_to_seconds(tls.getpeercert()["notAfter"])
        except ssl.SSLCertVerificationError:
            expiry = None
        except OSError:
            return  # the proxy is away: SiteDown says so
        yield GaugeMetricFamily(
            "babyshop_tls_certificate_valid",
            "1 if the proxy's certificate for the site's name verifies, 0 if not.",
            value=int(expiry is not None),
        )
        if expiry is not None:
            yield GaugeMetricFamily(
                "babyshop_tls_certificate_expiry_timestamp_seconds",
                "When the proxy's certificate for the site's name expires, in seconds since 1970.",
                value=expiry,
            )


def serve_web():
    """In gunicorn's master (gunicorn.conf.py): the sum of every worker's
    values; and the proxy's certificate, unless the site is localhost (its
    certificate is Caddy's own, which no one else trusts)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    if settings.SITE_DOMAIN not in (None, "localhost"):
        registry.register(CertificateCollector(PROXY_HTTPS, settings.SITE_DOMAIN))
    start_http_server(settings.METRICS_PORT, registry=registry)


def serve_worker(queues):
    """In the worker: its own values, Python's process figures, the queue and the last backup."""
    REGISTRY.register(DatabaseCollector(queues))
    start_http_server(settings.METRICS_PORT)
