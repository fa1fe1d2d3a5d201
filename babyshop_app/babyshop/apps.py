from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class BabyshopConfig(AppConfig):
    """The project package as an app: it carries the operational commands
    (wait_for_db, migrate_locked) that the container entrypoint runs, and
    wires the log-in throttle and the page cache's invalidation."""

    name = "babyshop"
    verbose_name = "babyshop operations"

    def ready(self):
        # Both import models: only once the apps are loaded.
        from babyshop import pagecache, throttle

        user_logged_in.connect(throttle.forget_own_failures)
        pagecache.connect()
