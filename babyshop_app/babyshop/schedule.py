"""Jobs the worker queues on a schedule (settings.TASK_SCHEDULE), and the
housekeeping tasks the core schedules."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.tasks import task
from django.utils import timezone
from django.utils.module_loading import import_string

from babyshop.models import ScheduledJob

NEVER = datetime(2000, 1, 1, tzinfo=UTC)
# Failed tasks wait for someone to retry them in the admin (the TasksFailed
# alert asks for it); one nobody retried in a year never will be.
FAILED_KEEP_DAYS = 365


def queue_due_jobs():
    """Queue every scheduled job whose period has passed since it was last
    queued; the names of those queued. Exactly once across workers: the
    UPDATE that moves a job's time on holds its row locked until the task
    queued in the same transaction commits, and a worker whose UPDATE waited
    on that lock finds the job no longer due (PostgreSQL reads the row again)."""
    schedule = settings.TASK_SCHEDULE
    ScheduledJob.objects.bulk_create(
        [ScheduledJob(name=name, last_queued_at=NEVER) for name in schedule], ignore_conflicts=True
    )
    now, queued = timezone.now(), []
    for name, seconds in schedule.items():
        due = ScheduledJob.objects.filter(name=name, last_queued_at__lte=now - timedelta(seconds=seconds))
        with transaction.atomic():
            if due.update(last_queued_at=now):
                import_string(name).enqueue()
                queued.append(name)
    return queued


@task()
def clear_expired_sessions():
    """Django's clearsessions: expired sessions, and the carts in them, go."""
    call_command("clearsessions")


@task()
def prune_finished_tasks():
    """django-tasks-db's prune: tasks of every queue done more than
    TASK_KEEP_DAYS ago go, failed ones after FAILED_KEEP_DAYS."""
    call_command(
        "prune_db_task_results",
        queue_name="*",
        min_age_days=settings.TASK_KEEP_DAYS,
        failed_min_age_days=FAILED_KEEP_DAYS,
    )
