from django.db import models


class ScheduledJob(models.Model):
    """When the worker last queued one of TASK_SCHEDULE's jobs. A worker
    queues a due job while it holds this row locked, in the transaction
    that moves last_queued_at on: one worker does, once per period, however
    many run (babyshop/schedule.py)."""

    name = models.CharField(max_length=200, primary_key=True, help_text="The task's dotted path.")
    last_queued_at = models.DateTimeField()

    def __str__(self):
        return self.name


class Backup(models.Model):
    """A backup scripts/backup.sh made, checked and (with BACKUP_COPY_COMMAND)
    copied off the machine, recorded at its end. The worker reports the last
    one to Prometheus, which alerts when it is over 26 hours old
    (docs/monitoring.md)."""

    name = models.CharField(max_length=32, help_text="Its directory in BACKUP_DIR.")
    finished_at = models.DateTimeField()
    size_bytes = models.BigIntegerField()

    def __str__(self):
        return self.name
