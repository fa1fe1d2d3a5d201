import os
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_save


class BabyshopConfig(AppConfig):
    """The project package as an app: it carries the operational commands
    (wait_for_db, migrate_locked) that the container entrypoint runs, and
    sets up, as the process starts, what the settings only describe: the
    request ids of tasks, the metrics' files and the error reports."""

    name = "babyshop"
    verbose_name = "babyshop operations"

    def ready(self):
        # These import models: only once the apps are loaded.
        from django_tasks_db.models import DBTaskResult

        from babyshop import logs

        pre_save.connect(logs.remember_request, sender=DBTaskResult, dispatch_uid="logs:task-request")
        if settings.METRICS_PORT:
            # prometheus_client's multiprocess mode (babyshop/metrics.py): each
            # process keeps its values in files there, and gunicorn's master
            # serves the sum of its workers'. Read by the client when it is
            # first imported, so set before; on /dev/shm: memory, writable in
            # a read-only container. (The trailing comma keeps the noqa on the
            # path's line, however long `make rename` makes it.)
            directory = os.environ.setdefault(
                "PROMETHEUS_MULTIPROC_DIR",
                "/dev/shm/babyshop-metrics",  # noqa: S108 (the container's own)
            )
            Path(directory).mkdir(mode=0o700, exist_ok=True)
        if settings.SENTRY_DSN:
            from babyshop import errors

            errors.init(
                settings.SENTRY_DSN,
                settings.SENTRY_ENVIRONMENT,
                settings.REVISION,
                settings.SENTRY_TRACES_SAMPLE_RATE,
            )
