from django.apps import AppConfig


class BabyshopConfig(AppConfig):
    """The project package as an app: it carries the operational commands
    (wait_for_db, migrate_locked) that the container entrypoint runs."""

    name = "babyshop"
    verbose_name = "babyshop operations"
