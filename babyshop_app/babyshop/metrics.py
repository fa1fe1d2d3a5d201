"""Prometheus metrics of web and the worker (docs/monitoring.md).

Off unless METRICS_PORT is set (MONITORING=true in the env file sets it):
then each container serves its metrics over plain HTTP on that port, an
address the proxy never routes to (Caddy passes requests to web's PORT only),
so only the services on the stack's private networks can read them.

- web: gunicorn's workers are separate processes, each counting the requests
  it answers. prometheus_client's multiprocess mode keeps their values in
  files (PROMETHEUS_MULTIPROC_DIR, set by the settings before anything
  imports the client), and gunicorn's master serves their sum (serve_web).
- the worker is one process and serves its own values, with the queue and
  the last backup read from the database at each scrape (serve_worker).

Labels are bounded: the view is the URL's name (or pattern), never the path;
an unknown method counts as "other".
"""

import atexit
import collections
import contextvars
import os
import socket
import ssl
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Case, Count, F, Min, When
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

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
PAGE_CACHE = Counter(
    "babyshop_page_cache_requests",
    "Pages of cache_anonymous_page's, by what the page cache did (X-Cache: hit, miss, personal, bypass).",
    ["result"],
)
QUERIES = Counter("babyshop_db_queries", "Database queries made.")
QUERY_TIME = Counter("babyshop_db_query_seconds", "Time spent in database queries.")
# The queries of the request being answered and their time, counted once at
# its end (docs/monitoring.md says why).
request_queries = contextvars.ContextVar("request_queries", default=None)
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


class Tally:
    """What web's requests add to the metrics, kept by each process and
    written to its multiprocess files by a thread of its own every
    WRITE_EVERY seconds, and at exit: a worker killed outright loses its
    last second's. Not at each request: docs/monitoring.md says why."""

    WRITE_EVERY = 1.0

    def __init__(self):
        self.waiting = collections.deque()  # (append and popleft are atomic: no lock)
        self.lock = threading.Lock()
        self.writer = None
        os.register_at_fork(after_in_child=self.forked)
        atexit.register(self.write)

    def add(self, series, elapsed, queries, seconds):
        """A request's series (MetricsMiddleware), its time, and its queries' count and time."""
        self.waiting.append((series, elapsed, queries, seconds))
        if self.writer is None:
            with self.lock:
                if self.writer is None:  # (the first request of this process: its writer)
                    self.writer = threading.Thread(target=self.write_every, daemon=True)
                    self.writer.start()

    def forked(self):
        """gunicorn forks its workers: a fork's copy of what waits is its
        parent's to write, and it needs a writer of its own."""
        self.waiting.clear()
        self.lock = threading.Lock()
        self.writer = None

    def write_every(self):
        while True:
            time.sleep(self.WRITE_EVERY)
            self.write()

    def write(self):
        while True:
            try:
                (cache, requests, latency), elapsed, queries, seconds = self.waiting.popleft()
            except IndexError:
                return
            if cache is not None:
                cache.inc()
            requests.inc()
            latency.observe(elapsed)
            count_queries(queries, seconds)


tally = Tally()


class MetricsMiddleware:
    """Counts and times each request Django answers (in the tally). After
    the request log, before the page cache: the pages it serves are counted
    too (view "page_cache")."""

    def __init__(self, get_response):
        self.get_response = get_response
        # (cache, view, method, status) -> their series, looked up once:
        # labels() checks its values and takes a lock at every call.
        self.series = {}

    def __call__(self, request):
        started = time.perf_counter()
        queries = [0, 0.0]
        token = request_queries.set(queries)
        try:
            response = self.get_response(request)  # (an exception in a view is a response by now)
        finally:
            request_queries.reset(token)
        elapsed = time.perf_counter() - started
        cache = response.get("X-Cache")
        if cache in ("hit", "personal"):  # (served before any URL was resolved)
            view = "page_cache"
        elif match := request.resolver_match:
            view = match.view_name or match.route
        else:
            view = "none"  # answered before a URL was resolved: a 404, a bad host, a redirect
        method = request.method if request.method in METHODS else "other"
        key = (cache, view, method, response.status_code)
        if (series := self.series.get(key)) is None:
            series = self.series[key] = (
                PAGE_CACHE.labels(cache) if cache is not None else None,
                REQUESTS.labels(view, method, str(response.status_code)),
                LATENCY.labels(view),
            )
        tally.add(series, elapsed, *queries)
        return response


def time_query(execute, sql, params, many, context):
    """An execute wrapper of every connection (connect_queries): times each
    query, added to its request's (MetricsMiddleware) or, outside a request
    (the worker), counted at once."""
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        spent = time.perf_counter() - started
        if (queries := request_queries.get()) is None:
            count_queries(1, spent)
        else:
            queries[0] += 1
            queries[1] += spent


def count_queries(count, seconds):
    if count:
        QUERIES.inc(count)
        QUERY_TIME.inc(seconds)


def connect_queries(sender, connection, **kwargs):
    """connection_created (connected in apps.py when METRICS_PORT is set).
    First in the list: Django's execute_wrapper() removes the last one."""
    if time_query not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, time_query)


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
        # (Imported here: this module is imported before the apps are ready.)
        from django_tasks_db.models import DBTaskResult, get_date_max

        from babyshop.models import Backup

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
        due = Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))
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
        now = timezone.now()
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
