"""Jobs the worker queues on a schedule (settings.TASK_SCHEDULE), and the
housekeeping tasks the core schedules."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from babyshop.models import ScheduledJob

NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def queue_due_jobs():
    """Queue every scheduled job whose period has passed since it was last
    queued; the names of those queued. Exactly once across workers: each
    job's row is locked while it is queued, and a worker that finds it
    locked (or already moved on) leaves it."""
    schedule = settings.TASK_SCHEDULE
    ScheduledJob.objects.bulk_create(
        [ScheduledJob(name=name, last_queued_at=NEVER) for name in schedule], ignore_conflicts=True
    )
    now, queued = timezone.now(), []
    for name, seconds in schedule.items():
        with transaction.atomic():
            due = (
                ScheduledJob.objects.select_for_update(skip_locked=True)
                .filter(name=name, last_queued_at__lte=now - timedelta(seconds=seconds))
                .first()
            )
            if due is None:
                continue
            import_string(name).enqueue()
            due.last_queued_at = now
            due.save(update_fields=["last_queued_at"])
            queued.append(name)
    return queued


@task()
def clear_expired_sessions():
    """Django's clearsessions: expired sessions, and the carts in them, go."""
    call_command("clearsessions")


@task()
def prune_finished_tasks():
    """Tasks done more than TASK_KEEP_DAYS ago go; failed ones stay until
    someone retries or deletes them."""
    cutoff = timezone.now() - timedelta(days=settings.TASK_KEEP_DAYS)
    deleted, _ = DBTaskResult.objects.filter(
        status=TaskResultStatus.SUCCESSFUL, finished_at__lt=cutoff
    ).delete()
    return deleted
