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
