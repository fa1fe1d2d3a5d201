"""Run django.tasks' queued tasks (django-tasks-db's database backend).

Each task runs inside the transaction that holds its row locked (SELECT ...
FOR UPDATE SKIP LOCKED) and its outcome is written in that transaction: a
worker that dies mid-task leaves its task waiting again, whole; a failed
attempt's writes are undone; two workers never take one task. SIGTERM lets
the running task finish. docs/worker.md says what happens when things go
wrong, docs/decisions.md why this is not django-tasks-db's db_worker.

After each look at the queue the worker touches WORKER_HEARTBEAT_FILE, which
the container's healthcheck reads.
"""

import logging
import random
import signal
import sys
import time
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

# How often the worker queues the jobs of TASK_SCHEDULE that are due.
SCHEDULE_CHECK_SECONDS = 60
# The longest wait between two attempts of a task.
MAX_RETRY_DELAY = timedelta(hours=1)
# What no retry can mend: the task was given what it cannot use (an address
# the mailer refuses, arguments its function does not take).
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
        row = DBTaskResult.objects.ready().filter(queue_name__in=queues).get_locked()
        if row is None:
            return False
        row.claim(worker_id)  # seen by others only with the outcome, when this commits
        attempts_left = len(row.worker_ids) < settings.TASK_MAX_ATTEMPTS
        try:
            task = row.task
        except (ImportError, SuspiciousOperation) as exc:
            # Queued after this worker started, it comes from newer code (a
            # deploy updates web before the worker), which the next worker
            # runs; queued before, no code has it any more.
            finish(row, exc, retry=attempts_left and row.enqueued_at > started_at)
            return True
        context = [TaskContext(task_result=row.task_result)] if task.takes_context else []
        with logs.task_context(row):
            task_started.send(type(task.get_backend()), task_result=row.task_result)
            try:
                with transaction.atomic():  # a savepoint: a failed attempt's writes are undone
                    value = normalize_json(
                        task.call(*context, *row.args_kwargs["args"], **row.args_kwargs["kwargs"])
                    )
            except Exception as exc:
                finish(row, exc, retry=attempts_left and not isinstance(exc, PERMANENT_ERRORS))
            else:
                finish(row, None, value=value)
            task_finished.send(type(task.get_backend()), task_result=row.task_result)
    return True


def finish(row, exc, retry=False, value=None):
    """Write the attempt's outcome: done, due again later, or failed for good."""
    attempt = len(row.worker_ids)
    outcome = "succeeded" if exc is None else "retried" if retry else "failed"
    metrics.task_attempt(row.task_path, outcome, (timezone.now() - row.started_at).total_seconds())
    if exc is None:
        row.set_successful(value)
        return
    row.set_failed(exc)  # its error and traceback, shown in the admin
    if retry:
        row.status, row.finished_at = TaskResultStatus.READY, None
        row.run_after = timezone.now() + retry_delay(attempt)
        row.save(update_fields=["status", "finished_at", "run_after"])
    # The traceback (an error report when SENTRY_DSN is set) the first time,
    # so a bug shows at once, and when the task gives up.
    loud = attempt == 1 or not retry
    logger.log(
        logging.ERROR if loud else logging.WARNING,
        "task %s (%s) failed on attempt %d of %d: %s",
        row.id, row.task_path, attempt, settings.TASK_MAX_ATTEMPTS,
        f"tried again at {row.run_after.isoformat(timespec='seconds')}" if retry
        else "failed for good, kept to retry in the admin",
        exc_info=exc if loud else None,
    )  # fmt: skip


class Command(BaseCommand):
    help = "Run the queued background tasks until SIGTERM (docs/worker.md)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run the tasks that are due, then exit (tests, one-off runs).",
        )

    def handle(self, *, batch, **options):
        self.stopping = False
        previous = {signum: signal.signal(signum, self.stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        if settings.METRICS_PORT and not batch:
            metrics.serve_worker(settings.TASK_QUEUES)
        try:
            self.work(settings.TASK_QUEUES, batch)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self, signum, frame):
        if self.stopping:
            logger.warning(
                "%s again: stopping now, the running task goes back to the queue", signal.strsignal(signum)
            )
            sys.exit(1)
        logger.info("%s: stopping after the running task", signal.strsignal(signum))
        self.stopping = True

    def work(self, queues, batch):
        worker_id, started_at = get_random_string(32), timezone.now()
        heartbeat = Path(settings.WORKER_HEARTBEAT_FILE)
        next_schedule_check = 0.0
        logger.info("worker %s taking tasks from %s", worker_id, ", ".join(queues))
        if mail.QUEUE not in queues:
            logger.warning("no SMTP server (SMTP_HOST): mail waits in the queue until there is one")
        while not self.stopping:
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
                first_line = str(exc).strip().splitlines()[0]
                logger.error("cannot read the task queue (%s: %s)", type(exc).__name__, first_line)
                ran = False
            else:
                heartbeat.touch()
            if batch and not ran:
                break
            if not ran:
                time.sleep(settings.WORKER_POLL_SECONDS)
        logger.info("worker %s stopped", worker_id)
