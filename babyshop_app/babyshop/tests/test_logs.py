"""Logs (babyshop/logs.py): one JSON object per line, each request's line and
id, the id carried into the tasks a request enqueues and into the worker's
lines, and nothing personal or secret in them."""

import io
import ipaddress
import json
import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult

from babyshop import logs
from babyshop.schedule import prune_finished_tasks

PROXY = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
CADDY_ID = "0b9e4c3a-5f0e-4a7b-9d61-2f6f0c1d2e3f"


@pytest.fixture
def json_log():
    """Every record from now on, as LOG_FORMAT=JSON writes it: the parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    loggers = [logging.getLogger(), logging.getLogger("django")]  # ("django" does not propagate)
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def ada(db):
    return get_user_model().objects.create_user("ada-lovelace", "ada@example.com", "a-long-enough-Passw0rd")


def request_lines(lines):
    return [line for line in lines if line["logger"] == "babyshop.requests"]


@pytest.mark.django_db
def test_each_request_has_a_line_and_an_id_it_is_answered_with(client, json_log):
    response = client.get("/accounts/login/")
    rid = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    (line,) = request_lines(json_log())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line.pop("time"))
    assert line.pop("duration_ms") >= 0
    assert line == {
        "level": "INFO",
        "logger": "babyshop.requests",
        "message": f"GET /accounts/login/ 200 {line['message'].split()[-1]}",
        "request_id": rid,
        "method": "GET",
        "path": "/accounts/login/",
        "status": 200,
        "view": "login",
    }
    assert client.get("/accounts/login/")["X-Request-ID"] != rid, "one id per request"


@pytest.mark.django_db
def test_the_proxys_id_is_kept_and_a_clients_is_not(client, settings):
    """Caddy replaces any X-Request-ID a client sends; web believes one only
    from a peer in FORWARDED_ALLOW_IPS, and only if it looks like an id."""

    def answered_id(headers):
        return client.get("/accounts/login/", headers=headers)["X-Request-ID"]

    assert answered_id({**PROXY, "X-Request-ID": CADDY_ID}) == CADDY_ID
    for headers in (
        {"X-Request-ID": CADDY_ID},  # not through a proxy
        {**PROXY, "X-Request-ID": "two words"},
        {**PROXY, "X-Request-ID": "x" * 65},
    ):
        assert answered_id(headers) != headers["X-Request-ID"]
    settings.FORWARDED_ALLOW_IPS = [ipaddress.ip_network("10.0.0.0/8")]  # (the test client is 127.0.0.1)
    assert answered_id({**PROXY, "X-Request-ID": CADDY_ID}) != CADDY_ID


@pytest.mark.django_db
def test_a_signed_in_users_id_is_logged_never_their_name_or_address(client, ada, json_log):
    client.force_login(ada)
    assert client.get("/admin/").status_code == 302  # (not staff: to the admin's log-in)
    line = request_lines(json_log())[-1]
    assert line["user_id"] == ada.pk
    assert "lovelace" not in json.dumps(line)
    assert "example.com" not in json.dumps(line)


@pytest.mark.django_db
def test_a_password_reset_token_never_reaches_the_log(client, ada, json_log):
    uid = urlsafe_base64_encode(force_bytes(ada.pk))
    token = default_token_generator.make_token(ada)
    response = client.get(f"/accounts/password-reset/{uid}/{token}/")
    assert response.status_code == 302  # to the form, the token now in the session
    lines = json_log()
    assert request_lines(lines)[-1]["path"] == f"/accounts/password-reset/{uid}/[secret]/"
    assert token not in json.dumps(lines)


@pytest.mark.django_db(transaction=True)
def test_the_tasks_a_request_enqueues_carry_its_id_into_the_workers_lines(
    client, ada, queued_mail, run_tasks, json_log
):
    """The password-reset request queues a task, which queues the mail, both
    run by the worker: the worker's lines for both have the request's id."""
    response = client.post("/accounts/password-reset/", {"email": ada.email})
    assert response.status_code == 302
    rid = response["X-Request-ID"]
    task = DBTaskResult.objects.get()
    assert task.args_kwargs[logs.TASK_REQUEST_ID] == rid
    run_tasks()
    mail = DBTaskResult.objects.exclude(pk=task.id).get()
    ran = [line for line in json_log() if line.get("task_id")]
    assert [(line["message"].rsplit(maxsplit=1)[1], line["task_id"], line["request_id"]) for line in ran] == [
        ("state=RUNNING", str(task.id), rid),
        ("state=SUCCESSFUL", str(task.id), rid),
        ("state=RUNNING", str(mail.id), rid),
        ("state=SUCCESSFUL", str(mail.id), rid),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_outside_a_request_has_no_request_id(run_tasks, json_log):
    task = prune_finished_tasks.enqueue()
    assert logs.TASK_REQUEST_ID not in DBTaskResult.objects.get(pk=task.id).args_kwargs
    run_tasks()
    ran = [line for line in json_log() if line.get("task_id") == str(task.id)]
    assert len(ran) == 3  # started, the prune's count, finished
    assert not any("request_id" in line for line in ran)


def test_each_line_has_its_records_own_time_in_utc():
    record = logging.makeLogRecord({"msg": "m"})
    record.created, record.msecs = 1e9 + 0.25, 250
    assert json.loads(logs.JsonFormatter().format(record))["time"] == "2001-09-09T01:46:40.250Z"


def test_a_record_is_one_line_whatever_it_holds(json_log):
    log = logging.getLogger("babyshop.test")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("two\nlines")
    (line,) = json_log()
    assert line["message"] == "two\nlines"
    assert line["exception"].startswith("Traceback")
    assert "ZeroDivisionError" in line["exception"]


@pytest.mark.django_db(transaction=True)
def test_what_the_container_start_prints_is_logged(settings, json_log):
    """prestart's commands (wait for the database, migrate) write log
    records, in LOG_FORMAT like every other line, not bare text."""
    settings.MIGRATE_ON_START = True
    # demo: start
    settings.SEED_DEMO = False
    # demo: end
    call_command("prestart")
    messages = [line["message"] for line in json_log() if line["logger"] == "babyshop.start"]
    assert any(re.fullmatch(r"database \S+ is ready", message) for message in messages), messages
    assert "  No migrations to apply." in messages


@pytest.mark.django_db(transaction=True)
def test_each_migration_applied_at_start_is_one_line(json_log):
    """migrate prints "  Applying ..." and then " OK": one line in the log."""
    call_command("migrate", "sessions", "zero", verbosity=0)
    with logs.LineLog(logging.getLogger("babyshop.start")) as out:
        call_command("migrate_locked", verbosity=1, stdout=out)
    messages = [line["message"] for line in json_log() if line["logger"] == "babyshop.start"]
    assert "  Applying sessions.0001_initial... OK" in messages, messages


def test_a_line_printed_in_pieces_is_one_record(json_log):
    """migrate prints "  Applying app.0001_initial..." and then " OK"."""
    with logs.LineLog(logging.getLogger("babyshop.start")) as out:
        out.write("  Applying app.0001_initial...")
        out.flush()
        out.write(" OK\n\nunfinished")
    assert [line["message"] for line in json_log()] == ["  Applying app.0001_initial... OK", "unfinished"]
