from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created
from django.db.models.signals import pre_save


class BabyshopConfig(AppConfig):
    """The project package as an app: it carries the operational commands
    (wait_for_db, migrate_locked) that the container entrypoint runs, and
    wires the request ids of tasks, and times the queries when metrics are on."""

    name = "babyshop"
    verbose_name = "babyshop operations"

    def ready(self):
        # These import models: only once the apps are loaded.
        from django_tasks_db.models import DBTaskResult

        from babyshop import logs, metrics

        pre_save.connect(logs.remember_request, sender=DBTaskResult, dispatch_uid="logs:task-request")
        if settings.METRICS_PORT:
            connection_created.connect(metrics.connect_queries, dispatch_uid="metrics:queries")
