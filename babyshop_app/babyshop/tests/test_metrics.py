"""Metrics (babyshop/metrics.py): requests by view and status with their
latency, query time, the worker's attempts and the queue; the sum of every
gunicorn worker, served on METRICS_PORT only; nothing set up before the
process starts, and no thread of their own."""

import contextlib
import http.client
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.tasks import task
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client import REGISTRY

from babyshop import metrics
from babyshop.models import Backup
from babyshop.tests.test_config import app_environment, manage


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """What a sample gained since this was made."""

    def __init__(self, name, **labels):
        self.name, self.labels, self.before = name, labels, value(name, **labels)

    def __call__(self):
        return value(self.name, **self.labels) - self.before


@pytest.fixture
def metrics_on(settings):
    """METRICS_PORT set: the middleware where the settings put it."""
    settings.METRICS_PORT = 9100
    middleware = settings.MIDDLEWARE
    settings.MIDDLEWARE = [*middleware[:2], "babyshop.metrics.MetricsMiddleware", *middleware[2:]]


@pytest.mark.django_db
def test_requests_are_counted_by_view_method_and_status(client, metrics_on):
    login = Delta("babyshop_http_requests_total", view="login", method="GET", status="200")
    missing = Delta("babyshop_http_requests_total", view="none", method="GET", status="404")
    odd = Delta("babyshop_http_requests_total", view="login", method="other", status="405")
    timed = Delta("babyshop_http_request_duration_seconds_count", view="login")
    client.get("/accounts/login/")
    client.get("/accounts/login/")
    client.get("/no/such/page/")
    client.generic("BREW", "/accounts/login/")  # a hostile method is one label, not a new one each
    assert (login(), missing(), odd(), timed()) == (2, 1, 1, 3)
    assert value("babyshop_http_request_duration_seconds_bucket", view="login", le="10.0") >= 3


@pytest.mark.django_db
def test_nothing_is_counted_with_metrics_off(client):
    login = Delta("babyshop_http_requests_total", view="login", method="GET", status="200")
    client.get("/accounts/login/")
    assert login() == 0


@pytest.mark.django_db
def test_a_requests_queries_are_counted_and_timed(client, metrics_on, django_user_model):
    client.force_login(django_user_model.objects.create_user("ada", "ada@example.com", "a-long-Passw0rd"))
    queries = Delta("babyshop_db_queries_total")
    spent = Delta("babyshop_db_query_seconds_total")
    with CaptureQueriesContext(connection) as made:
        assert client.get("/accounts/login/").status_code == 302  # (logged in: to the home page)
    assert len(made) >= 2  # (the session and the user)
    assert queries() == len(made)
    assert 0 < spent() < 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert queries() == len(made), "outside a request: not counted"


# Run in a fresh process, with PROMETHEUS_MULTIPROC_DIR and METRICS_PORT
# set: the settings are imported, then Django is started.
START = """
import os, sys
import sentry_sdk
from django.conf import settings
settings.METRICS_PORT  # (the settings, imported)
print("imported:", os.path.exists(os.environ["PROMETHEUS_MULTIPROC_DIR"]), sentry_sdk.is_initialized(),
      "prometheus_client" in sys.modules)
import django
django.setup()
print("started:", os.path.exists(os.environ["PROMETHEUS_MULTIPROC_DIR"]), sentry_sdk.is_initialized())
"""


def test_importing_the_settings_sets_nothing_up_starting_django_does(tmp_path):
    """No folder made, no SDK started, no metrics client loaded by reading
    the settings (a test, a tool, collectstatic): that is for the process's
    start."""
    result = manage(
        "-c",
        START,
        program=(sys.executable,),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        METRICS_PORT="9100",
        SENTRY_DSN="https://public-key@sentry.invalid/42",
    )
    found = [line for line in result.stdout.splitlines() if line.startswith(("imported:", "started:"))]
    assert found == ["imported: False False False", "started: True True"], result.stdout + result.stderr


# Handles requests with metrics on and LOG_FORMAT=JSON, then counts the threads.
REQUESTS_THEN_THREADS = """
import logging, threading
import django
django.setup()
from django.test import Client
for _ in range(3):
    Client().get("/accounts/logout/", headers={"host": "shop.example.com"}, secure=True)  # (405: no page)
logging.getLogger("babyshop.test").info("and a line of its own")
print("threads:", threading.active_count())
"""


def test_logs_and_metrics_start_no_thread(tmp_path):
    result = manage(
        "-c",
        REQUESTS_THEN_THREADS,
        program=(sys.executable,),
        DATABASE_URL=os.environ["DATABASE_URL"],
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        METRICS_PORT="9100",
        LOG_FORMAT="JSON",
    )
    assert result.returncode == 0, result.stderr
    assert "threads: 1" in result.stdout.splitlines(), result.stdout
    assert result.stdout.count('"logger": "babyshop.requests"') == 3, result.stdout


@task()
def succeed():
    return "done"


@task()
def fail():
    raise ConnectionError("away")


@pytest.mark.django_db
def test_the_worker_counts_each_attempt_by_outcome(run_tasks, settings):
    settings.TASK_MAX_ATTEMPTS = 2
    settings.TASK_RETRY_SECONDS = 0
    path = f"{__name__}.{{}}"
    succeeded = Delta("babyshop_task_attempts_total", task=path.format("succeed"), outcome="succeeded")
    retried = Delta("babyshop_task_attempts_total", task=path.format("fail"), outcome="retried")
    failed = Delta("babyshop_task_attempts_total", task=path.format("fail"), outcome="failed")
    timed = Delta("babyshop_task_duration_seconds_count", task=path.format("fail"))
    succeed.enqueue()
    fail.enqueue()
    run_tasks()
    assert (succeeded(), retried(), failed(), timed()) == (1, 1, 1, 2)


def scrape_in_a_thread(collector, host=None):
    """As a scrape runs: in the metrics server's thread, on its own
    connection (to another host, if given). {(name, queue or None): value}"""
    found = {}

    def scrape():
        if host:
            connection.settings_dict = {**connection.settings_dict, "HOST": host}
        for family in collector.collect():
            for sample in family.samples:
                found[sample.name, sample.labels.get("queue")] = sample.value

    thread = threading.Thread(target=scrape)
    thread.start()
    thread.join()
    return found


@pytest.mark.django_db(transaction=True)
def test_the_queue_failures_and_last_backup_are_read_at_each_scrape(settings):
    settings.TASK_MAX_ATTEMPTS = 1
    collector = metrics.DatabaseCollector(["default", "email"])
    assert scrape_in_a_thread(collector) == {
        (name, queue): 0
        for name in (
            "babyshop_tasks_waiting",
            "babyshop_task_oldest_waiting_seconds",
            "babyshop_tasks_failed",
        )
        for queue in ("default", "email")
    }
    fail.enqueue()
    call_command("worker", "--batch")  # fails for good, at its only attempt
    old, new = succeed.enqueue(), succeed.enqueue()
    succeed.using(run_after=timezone.now() + timedelta(hours=1)).enqueue()  # not due: not waiting
    DBTaskResult.objects.filter(id=old.id).update(enqueued_at=timezone.now() - timedelta(minutes=10))
    finished = timezone.now() - timedelta(hours=3)
    Backup.objects.create(name="20261204T000000Z", finished_at=finished - timedelta(days=1), size_bytes=1)
    Backup.objects.create(name="20261205T000000Z", finished_at=finished, size_bytes=123456)
    found = scrape_in_a_thread(collector)
    assert found["babyshop_tasks_waiting", "default"] == 2
    assert 600 <= found["babyshop_task_oldest_waiting_seconds", "default"] < 660
    assert found["babyshop_tasks_failed", "default"] == 1
    assert found["babyshop_tasks_waiting", "email"] == 0
    assert found["babyshop_backup_last_success_timestamp_seconds", None] == finished.timestamp()
    assert found["babyshop_backup_last_size_bytes", None] == 123456
    assert DBTaskResult.objects.filter(id=new.id).exists()


@pytest.mark.django_db(transaction=True)
def test_the_database_collector_reports_nothing_while_the_database_is_away():
    assert scrape_in_a_thread(metrics.DatabaseCollector(["default"]), host="db.invalid") == {}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port, path):
    """GET http://127.0.0.1:port/path as the proxy would relay it (no redirect followed)."""
    conversation = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conversation.request("GET", path, headers={"Host": "shop.example.com", "X-Forwarded-Proto": "https"})
        response = conversation.getresponse()
        return response.status, response.read().decode()
    finally:
        conversation.close()


def logouts_counted(text):
    """GETs of /accounts/logout/ (405) in what a metrics address served."""
    prefix = 'babyshop_http_requests_total{method="GET",status="405",view="logout"} '
    return sum(float(line.removeprefix(prefix)) for line in text.splitlines() if line.startswith(prefix))


def test_gunicorn_serves_the_sum_of_its_workers_on_the_metrics_port_only(tmp_path):
    """Four worker processes, each with its own share of 40 requests: the
    master's metrics address counts all 40; the site's port has no metrics.
    Started as entrypoint.sh starts it: gunicorn inside manage.py prestart,
    where Django (and so prometheus_client) is loaded before gunicorn's
    configuration."""
    port, metrics_port = free_port(), free_port()
    environment = app_environment(
        DATABASE_URL=os.environ["DATABASE_URL"],
        PORT=str(port),
        METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        WEB_CONCURRENCY="4",
        GUNICORN_THREADS="1",
        MIGRATE_ON_START="false",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "prestart",
            "gunicorn",
            "--config",
            "gunicorn.conf.py",
            "babyshop.wsgi",
        ],
        cwd=settings.BASE_DIR,
        env=environment,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                get(port, "/healthz")
                get(metrics_port, "/metrics")
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        before = logouts_counted(get(metrics_port, "/metrics")[1])
        for _ in range(40):  # (a 405 with no page: DEBUG is off, and static files are not collected here)
            assert get(port, "/accounts/logout/")[0] == 405
        status, text = get(metrics_port, "/metrics")
        assert status == 200
        assert logouts_counted(text) == before + 40, text
        status, text = get(port, "/metrics")
        assert status != 200
        assert "babyshop_" not in text
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA of our own and a certificate it signed for shop.test, ending on 2030-01-01."""
    directory = tmp_path_factory.mktemp("pki")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=test CA", "-days", "3650",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "site.key",
        "-out",
        "site.csr",
        "-subj",
        "/CN=shop.test",
    )
    (directory / "names.ext").write_text(
        "subjectAltName=DNS:shop.test\nauthorityKeyIdentifier=keyid\nextendedKeyUsage=serverAuth\n"
    )
    openssl("x509", "-req", "-in", "site.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "site.pem", "-not_before", "20250101000000Z", "-not_after", "20300101000000Z",
            "-extfile", "names.ext")  # fmt: skip
    return directory


@pytest.fixture
def tls_server(certificates):
    """A TLS server serving shop.test's certificate: its address."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "site.pem", certificates / "site.key")
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), context.wrap_socket(client, server_side=True):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()
    listener.close()


def certificate_figures(collector):
    return {sample.name: sample.value for family in collector.collect() for sample in family.samples}


def test_the_proxys_certificate_is_checked_as_a_browser_would(tls_server, certificates):
    trusted = metrics.CertificateCollector(tls_server, "shop.test", cafile=certificates / "ca.pem")
    assert certificate_figures(trusted) == {
        "babyshop_tls_certificate_valid": 1,
        "babyshop_tls_certificate_expiry_timestamp_seconds": 1893456000,  # 2030-01-01
    }
    another_name = metrics.CertificateCollector(tls_server, "www.shop.test", cafile=certificates / "ca.pem")
    untrusted = metrics.CertificateCollector(tls_server, "shop.test")  # (the system's CAs only)
    assert (
        certificate_figures(another_name)
        == certificate_figures(untrusted)
        == {"babyshop_tls_certificate_valid": 0}
    )
    tls_server_gone = metrics.CertificateCollector(("127.0.0.1", free_port()), "shop.test")
    assert certificate_figures(tls_server_gone) == {}
