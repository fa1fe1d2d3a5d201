"""Run django.tasks' queued tasks (django-tasks-db's database backend).

Each task runs inside the transaction that holds its row locked (SELECT ...
FOR UPDATE SKIP LOCKED), and its outcome is written in that same transaction:

- a worker that dies mid-task (SIGKILL, a crash, a lost machine) holds no
  lock any more and its transaction is rolled back, so the task is waiting
  again, whole, for the next worker; nothing is left "running" for ever;
- what the task wrote to the database commits together with its success,
  and is undone with its failure (a savepoint), so a retry starts clean;
- several workers never take the same task (the others skip the locked row).

SIGTERM (a deploy, docker stop) lets the running task finish, then exits;
a second SIGTERM or Ctrl-C stops at once, which rolls the task back. A task
that raises is tried again after TASK_RETRY_SECONDS, doubling each time up
to an hour, until TASK_MAX_ATTEMPTS; then it stays FAILED, with its
traceback, until someone retries it in the admin. An error no retry can
mend (PERMANENT_ERRORS, a task no code has any more) makes it FAILED at
once. Tasks therefore run at least once: docs/worker.md says how to write
one that may run twice.

Once a minute it also queues the jobs of TASK_SCHEDULE that are due
(babyshop/schedule.py): exactly once per period, however many workers run.

After each look at the queue the worker touches WORKER_HEARTBEAT_FILE, which
the container's healthcheck reads: a worker that cannot reach the database
or is stuck stops touching it and turns unhealthy.
"""

import logging
import random
import signal
import sys
import threading
import time
import traceback
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.tasks import TaskContext, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.json import normalize_json
from django_tasks_db.models import DBTaskResult

from babyshop import logs, mail, metrics, schedule

logger = logging.getLogger("babyshop.worker")

# How often the worker looks for scheduled jobs that are due (TASK_SCHEDULE).
SCHEDULE_CHECK_SECONDS = 60
# The longest wait between two attempts of a task.
MAX_RETRY_DELAY = timedelta(hours=1)
# What no retry can mend: the task was given what it cannot use (an address
# the mailer refuses, arguments its function does not take). Such a task
# fails at once; any other exception is retried (docs/worker.md).
PERMANENT_ERRORS = (ValueError, TypeError)


def retry_delay(attempts):
    """The wait before attempt attempts + 1: TASK_RETRY_SECONDS doubled for
    each attempt made, at most an hour, less up to a tenth at random so that
    tasks failing together do not all come back together."""
    delay = min(timedelta(seconds=settings.TASK_RETRY_SECONDS * 2 ** (attempts - 1)), MAX_RETRY_DELAY)
    return delay * (1 - random.random() / 10)  # noqa: S311 (spreading, not secrecy)


def run_one(queues, worker_id, started_at):
    """Run the next due task of these queues; False if there was none.
    started_at: when this worker started."""
    with transaction.atomic():
        row = (
            DBTaskResult.objects.ready()
            .filter(queue_name__in=queues)
            .select_for_update(skip_locked=True)
            .first()
        )
        if row is None:
            return False
        row.status = TaskResultStatus.RUNNING  # as the signals report it; saved with the outcome
        row.started_at = timezone.now()
        row.worker_ids = [*row.worker_ids, worker_id]
        attempts_left = len(row.worker_ids) < settings.TASK_MAX_ATTEMPTS
        try:
            task = row.task
        except (ImportError, SuspiciousOperation) as exc:
            # No such task in this worker's code. Queued after the worker
            # started, it comes from newer code (a deploy updates web before
            # the worker), which the next worker runs: tried again. Queued
            # before, no code has it any more: failed at once.
            _finish(row, exc, retry=attempts_left and row.enqueued_at > started_at)
            return True
        result = row.task_result
        context = [TaskContext(task_result=result)] if task.takes_context else []
        with logs.task_context(row):
            # (Django logs each task's start and end, on these signals.)
            task_started.send(sender=type(task.get_backend()), task_result=result)
            try:
                with transaction.atomic():  # a savepoint: a failed attempt's writes are undone
                    row.return_value = normalize_json(
                        task.call(*context, *row.args_kwargs["args"], **row.args_kwargs["kwargs"])
                    )
            except PERMANENT_ERRORS as exc:
                _finish(row, exc, retry=False)
            except Exception as exc:
                _finish(row, exc, retry=attempts_left)
            else:
                _finish(row, None, retry=False)
            task_finished.send(sender=type(task.get_backend()), task_result=row.task_result)
    return True


def _finish(row, exc, retry):
    """Write the attempt's outcome: done, failed for good, or due again later."""
    outcome = "retried" if retry else "failed" if exc else "succeeded"
    metrics.task_attempt(row.task_path, outcome, (timezone.now() - row.started_at).total_seconds())
    row.exception_class_path = f"{type(exc).__module__}.{type(exc).__qualname__}" if exc else ""
    row.traceback = "".join(traceback.format_exception(exc)) if exc else ""
    if retry:
        row.status = TaskResultStatus.READY
        row.run_after = timezone.now() + retry_delay(len(row.worker_ids))
        # An error the first time, with its traceback (an error report when
        # SENTRY_DSN is set): a bug shows at once, not after every attempt.
        logger.log(
            logging.ERROR if len(row.worker_ids) == 1 else logging.WARNING,
            "task %s (%s) failed on attempt %d of %d, tried again at %s: %s",
            row.id, row.task_path, len(row.worker_ids), settings.TASK_MAX_ATTEMPTS,
            row.run_after.isoformat(timespec="seconds"), type(exc).__name__,
            exc_info=exc if len(row.worker_ids) == 1 else None,
        )  # fmt: skip
    else:
        row.status = TaskResultStatus.FAILED if exc else TaskResultStatus.SUCCESSFUL
        row.finished_at = timezone.now()
        if exc:
            logger.error(
                "task %s (%s) failed for good on attempt %d: kept as failed, to retry in the admin",
                row.id, row.task_path, len(row.worker_ids), exc_info=exc,
            )  # fmt: skip
    row.save()


class Command(BaseCommand):
    help = "Run the queued background tasks until SIGTERM (docs/worker.md)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue", action="append", dest="queues",
            help="A queue to take tasks from (repeatable). Default: TASK_QUEUES.",
        )  # fmt: skip
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run the tasks that are due, then exit (tests, one-off runs).",
        )

    def handle(self, *, queues, batch, **options):
        queues = queues or settings.TASK_QUEUES
        worker_id, started_at = get_random_string(32), timezone.now()
        stopping = threading.Event()

        def stop(signum, frame):
            if stopping.is_set():
                logger.warning(
                    "%s again: stopping now, the running task goes back to the queue",
                    signal.strsignal(signum),
                )
                sys.exit(1)
            logger.info("%s: stopping after the running task", signal.strsignal(signum))
            stopping.set()

        previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        if settings.METRICS_PORT and not batch:
            metrics.serve_worker(queues)
        try:
            self.work(queues, worker_id, started_at, stopping, batch)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def work(self, queues, worker_id, started_at, stopping, batch):
        heartbeat = Path(settings.WORKER_HEARTBEAT_FILE)
        next_schedule_check = 0.0
        logger.info("worker %s taking tasks from %s", worker_id, ", ".join(queues))
        if mail.QUEUE not in queues:
            logger.warning("no SMTP server (SMTP_HOST): mail waits in the queue until there is one")
        while not stopping.is_set():
            if not connection.in_atomic_block:  # (a test's transaction is not ours to close)
                close_old_connections()  # like a request: drops a broken or expired connection
            try:
                if time.monotonic() >= next_schedule_check:
                    for name in schedule.queue_due_jobs():
                        logger.info("queued the scheduled job %s", name)
                    next_schedule_check = time.monotonic() + SCHEDULE_CHECK_SECONDS
                ran = run_one(queues, worker_id, started_at)
            except DatabaseError as exc:
                # Away, or not migrated yet: one line, then another look.
                logger.error(
                    "cannot read the task queue (%s: %s)",
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0],
                )
                ran = False
            else:
                heartbeat.touch()
            if batch and not ran:
                break
            if not ran:
                stopping.wait(settings.WORKER_POLL_SECONDS)
        logger.info("worker %s stopped", worker_id)
