"""The worker: one transaction per task, retries with backoff, then FAILED
until retried in the admin (at once for what no retry can mend); a task cut
short goes back to the queue whole; a task may take its context."""

import os
import signal
import socket
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from babyshop.management.commands import worker
from babyshop.tests.test_config import manage

pytestmark = pytest.mark.django_db
User = get_user_model()
RAN = []


@task()
def add_user(name):
    User.objects.create(username=name)
    RAN.append(name)


@task()
def add_user_then_fail(name):
    User.objects.create(username=name)
    raise ConnectionError("the other server is away")


@task()
def add_user_then_die(name):
    User.objects.create(username=name)
    raise SystemExit("killed")


@task()
def add_user_with_a_bad_value(name):
    User.objects.create(username=name)
    raise ValueError("Invalid address")


@task(takes_context=True)
def note_context(context, fail_first):
    RAN.append((context.attempt, context.task_result.id))
    if fail_first and context.attempt == 1:
        raise ConnectionError("the other server is away")


@pytest.fixture(autouse=True)
def forget():
    RAN.clear()


def test_a_task_runs_once(run_tasks):
    result = add_user.enqueue("ann")
    run_tasks()
    run_tasks()
    assert RAN == ["ann"]
    row = DBTaskResult.objects.get(id=result.id)
    assert row.status == TaskResultStatus.SUCCESSFUL
    assert len(row.worker_ids) == 1
    assert row.finished_at is not None


def test_a_failed_attempt_leaves_nothing_and_is_tried_again_later(run_tasks, settings):
    settings.TASK_RETRY_SECONDS = 60
    result = add_user_then_fail.enqueue("bob")
    before = timezone.now()
    run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert not User.objects.filter(username="bob").exists(), "the failed attempt's write was kept"
    assert row.status == TaskResultStatus.READY
    assert row.exception_class_path == "builtins.ConnectionError"
    assert "the other server is away" in row.traceback
    # 60 s, less up to a tenth.
    assert before + timedelta(seconds=53) < row.run_after < timezone.now() + timedelta(seconds=61)


def test_after_the_last_attempt_it_stays_failed_until_retried_in_the_admin(run_tasks, settings, admin_client):
    settings.TASK_MAX_ATTEMPTS = 3
    result = add_user_then_fail.enqueue("bob")
    for _ in range(3):
        DBTaskResult.objects.update(run_after=timezone.now())
        run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert row.status == TaskResultStatus.FAILED
    assert len(row.worker_ids) == 3

    changelist = "/admin/django_tasks_database/dbtaskresult/"
    listed = admin_client.get(changelist)
    assert "builtins.ConnectionError" in listed.text
    response = admin_client.post(
        changelist, {"action": "retry", "_selected_action": [str(result.id)]}, follow=True
    )
    assert "1 failed task(s) will run again." in response.text
    row.refresh_from_db()
    assert (row.status, row.worker_ids) == (TaskResultStatus.READY, [])
    run_tasks()
    assert len(DBTaskResult.objects.get(id=result.id).worker_ids) == 1


@pytest.mark.parametrize(
    ("enqueue", "error"),
    [
        (lambda: add_user_with_a_bad_value.enqueue("bob"), "builtins.ValueError"),
        (lambda: add_user.enqueue("bob", "an argument it does not take"), "builtins.TypeError"),
    ],
    ids=["a value it cannot use", "arguments it does not take"],
)
def test_what_no_retry_can_mend_fails_at_once(run_tasks, admin_client, enqueue, error):
    result = enqueue()
    run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert (row.status, len(row.worker_ids), row.exception_class_path) == (TaskResultStatus.FAILED, 1, error)
    assert not User.objects.filter(username="bob").exists(), "the failed attempt's write was kept"
    listed = admin_client.get("/admin/django_tasks_database/dbtaskresult/", {"status__exact": "FAILED"})
    assert error in listed.text


def test_the_retry_action_leaves_other_tasks_alone(run_tasks, admin_client):
    result = add_user.enqueue("ann")
    run_tasks()
    response = admin_client.post(
        "/admin/django_tasks_database/dbtaskresult/",
        {"action": "retry", "_selected_action": [str(result.id)]},
        follow=True,
    )
    assert "1 task(s) had not failed and were left alone." in response.text
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.SUCCESSFUL


def test_the_wait_doubles_up_to_an_hour(settings, monkeypatch):
    settings.TASK_RETRY_SECONDS = 10
    monkeypatch.setattr(worker.random, "random", lambda: 0.0)
    assert [worker.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert worker.retry_delay(30) == timedelta(hours=1)


def test_a_task_cut_short_goes_back_to_the_queue_whole(run_tasks):
    """What SIGKILL or a crash does to the worker's transaction."""
    result = add_user_then_die.enqueue("cid")
    with pytest.raises(SystemExit):
        run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert (row.status, row.worker_ids) == (TaskResultStatus.READY, [])
    assert not User.objects.filter(username="cid").exists()


def test_a_task_no_code_has_any_more_fails_at_once(run_tasks):
    """Queued before the worker started: the worker has the newest code."""
    result = add_user.enqueue("ann")
    DBTaskResult.objects.filter(id=result.id).update(task_path="babyshop.tests.test_worker.removed")
    run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert (row.status, len(row.worker_ids), row.exception_class_path) == (
        TaskResultStatus.FAILED, 1, "builtins.ImportError",
    )  # fmt: skip


def test_a_task_this_worker_lacks_is_left_for_a_newer_one(run_tasks, settings):
    """During a deploy an old worker may meet a task only the new code has:
    one queued after the worker started."""
    settings.TASK_MAX_ATTEMPTS = 2
    result = add_user.enqueue("ann")
    DBTaskResult.objects.filter(id=result.id).update(
        task_path="babyshop.tests.test_worker.newer", enqueued_at=timezone.now() + timedelta(minutes=1)
    )
    run_tasks()
    row = DBTaskResult.objects.get(id=result.id)
    assert (row.status, row.exception_class_path) == (TaskResultStatus.READY, "builtins.ImportError")
    DBTaskResult.objects.update(run_after=timezone.now())
    run_tasks()
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.FAILED


def test_a_task_that_takes_its_context_gets_its_attempt_and_result(run_tasks):
    first, retried = note_context.enqueue(fail_first=False), note_context.enqueue(fail_first=True)
    run_tasks()
    DBTaskResult.objects.update(run_after=timezone.now())
    run_tasks()
    assert sorted(RAN) == sorted([(1, first.id), (1, retried.id), (2, retried.id)])
    assert {row.status for row in DBTaskResult.objects.all()} == {TaskResultStatus.SUCCESSFUL}


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_take_the_same_task():
    """While one worker runs a task, another finds nothing to take."""
    started, release = threading.Event(), threading.Event()
    blocking.enqueue()
    BLOCKING.update(started=started, release=release)

    def first_worker():
        try:
            worker.run_one(["default"], "first", timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert started.wait(10)
        assert worker.run_one(["default"], "second", timezone.now()) is False
    finally:
        release.set()
        thread.join(10)
    row = DBTaskResult.objects.get()
    assert (row.status, row.worker_ids) == (TaskResultStatus.SUCCESSFUL, ["first"])


BLOCKING = {}


@task()
def blocking():
    BLOCKING["started"].set()
    assert BLOCKING["release"].wait(10)


def test_sigterm_lets_the_running_task_finish(run_tasks):
    """The worker's own SIGTERM handler: the loop stops after the task."""
    stop_during.enqueue()
    add_user.enqueue("later")
    call_command("worker")  # returns: the task asked it to stop
    assert DBTaskResult.objects.get(task_path__endswith="stop_during").status == TaskResultStatus.SUCCESSFUL
    assert RAN == [], "took another task after SIGTERM"


@task()
def stop_during():
    os.kill(os.getpid(), signal.SIGTERM)


def test_an_smtp_server_that_never_answers_holds_the_worker_smtp_timeout_seconds():
    """The worker sends a mail inside its task's transaction: a server that
    takes the connection and never answers holds it, and the task's row
    lock, SMTP_TIMEOUT seconds (10 unless set), then the attempt fails and
    is retried (docs/worker.md)."""
    mailer = "from django.core.mail import mailers; mailer = mailers['smtp']; print(mailer.timeout)"
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never answers
        smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(silent.getsockname()[1]), "SMTP_SECURITY": "NONE"}
        default = manage("shell", "--verbosity", "0", "-c", mailer, SMTP_TIMEOUT=None, **smtp)
        waited = manage(
            "shell", "--verbosity", "0", "-c", mailer + "; mailer.open()", SMTP_TIMEOUT="1", **smtp
        )
    assert default.stdout.strip() == "10", default.stderr
    assert waited.stdout.strip() == "1", waited.stderr
    assert "Connection unexpectedly closed: timed out" in waited.stderr
