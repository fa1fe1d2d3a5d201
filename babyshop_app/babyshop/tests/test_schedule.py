"""Scheduled jobs: queued once per period however many workers look, and
what the core's two jobs clear away."""

import threading
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from babyshop import schedule
from babyshop.models import ScheduledJob

pytestmark = pytest.mark.django_db
JOB = f"{__name__}.nightly"


@task()
def nightly():
    pass


@pytest.fixture
def one_job(settings):
    settings.TASK_SCHEDULE = {JOB: 3600}


def test_a_due_job_is_queued_once_per_period(one_job):
    assert schedule.queue_due_jobs() == [JOB]
    assert schedule.queue_due_jobs() == []
    assert DBTaskResult.objects.filter(task_path=JOB).count() == 1
    ScheduledJob.objects.filter(name=JOB).update(
        last_queued_at=timezone.now() - timedelta(hours=1, seconds=1)
    )
    assert schedule.queue_due_jobs() == [JOB]
    assert DBTaskResult.objects.filter(task_path=JOB).count() == 2


@pytest.mark.django_db(transaction=True)
def test_workers_looking_at_once_queue_it_once(one_job):
    barrier = threading.Barrier(4)

    def worker():
        try:
            barrier.wait(10)
            schedule.queue_due_jobs()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert DBTaskResult.objects.filter(task_path=JOB).count() == 1


def test_the_worker_queues_and_runs_the_core_jobs():
    expired = SessionStore()
    expired["cart"] = {"1": 2}
    expired.set_expiry(-1)
    expired.save()
    live = SessionStore()
    live["cart"] = {"1": 1}
    live.save()
    old = timezone.now() - timedelta(days=30)
    done = DBTaskResult.objects.create(
        task_path=JOB, args_kwargs={"args": [], "kwargs": {}}, backend_name="default",
        run_after=old, status=TaskResultStatus.SUCCESSFUL, finished_at=old,
    )  # fmt: skip
    failed = DBTaskResult.objects.create(
        task_path=JOB, args_kwargs={"args": [], "kwargs": {}}, backend_name="default",
        run_after=old, status=TaskResultStatus.FAILED, finished_at=old,
    )  # fmt: skip
    forgotten = timezone.now() - timedelta(days=366)
    failed_long_ago = DBTaskResult.objects.create(
        task_path=JOB, args_kwargs={"args": [], "kwargs": {}}, backend_name="default", queue_name="email",
        run_after=forgotten, status=TaskResultStatus.FAILED, finished_at=forgotten,
    )  # fmt: skip

    call_command("worker", "--batch")  # queues both jobs (due: never run), then runs them

    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert not DBTaskResult.objects.filter(pk=done.pk).exists()
    assert DBTaskResult.objects.filter(pk=failed.pk).exists(), "failed tasks wait for someone"
    assert not DBTaskResult.objects.filter(pk=failed_long_ago.pk).exists(), "a year on, nobody will retry it"
    jobs = DBTaskResult.objects.filter(task_path__startswith="babyshop.schedule.")
    assert sorted(jobs.values_list("status", flat=True)) == ["SUCCESSFUL", "SUCCESSFUL"]
