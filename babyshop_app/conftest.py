"""Fixtures for every app's tests (each app keeps its own in <app>/tests/)."""

from uuid import uuid4

import pytest
from django.core.cache import cache
from django.core.files.storage import storages
from django.core.management import call_command

from babyshop import config


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads made by tests go to a temporary directory, not the bind mount."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def plain_static_storage(settings):
    """Tests render templates without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Production's hasher is slow on purpose; the tests' logins need not be."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """No test sees the fragments an earlier one cached (the cache is this
    process's memory, which outlives each test's database)."""
    cache.clear()


@pytest.fixture
def queued_mail(settings):
    """Mail as production sends it: queued as a task, then sent by the
    worker through the "smtp" mailer (here Django's test outbox)."""
    settings.MAILERS = {
        "default": {"BACKEND": "babyshop.mail.QueuedEmailBackend"},
        "smtp": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
    }
    settings.TASK_QUEUES = ["default", "email"]


@pytest.fixture
def run_tasks(settings):
    """Run what the worker would run now: every task that is due (and no
    scheduled job: babyshop/tests/test_schedule.py has those)."""
    settings.TASK_SCHEDULE = {}
    return lambda: call_command("worker", "--batch")


@pytest.fixture
def bucket(settings):
    """MEDIA_STORAGE=s3 on a new bucket in the dev stack's object store
    (SeaweedFS, docker-compose.yml), emptied and removed afterwards."""
    options = {**config.bucket(), "bucket_name": f"test-{uuid4().hex}"}
    settings.MEDIA_STORAGE = "S3"
    default = {"BACKEND": "babyshop.buckets.BucketStorage", "OPTIONS": options}
    settings.STORAGES = {**settings.STORAGES, "default": default}
    storage = storages["default"]
    storage.bucket.create()
    yield storage
    storage.bucket.object_versions.delete()
    storage.bucket.delete()
