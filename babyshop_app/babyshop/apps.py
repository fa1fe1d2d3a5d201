from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class BabyshopConfig(AppConfig):
    """The project package as an app: it carries the operational commands
    (wait_for_db, migrate_locked) that the container entrypoint runs."""

    name = "babyshop"
    verbose_name = "babyshop operations"

    def ready(self):
        from babyshop import throttle  # imports models: only once the apps are loaded

        user_logged_in.connect(throttle.forget_own_failures)
