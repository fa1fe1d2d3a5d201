"""Uploads in a private S3-compatible bucket (MEDIA_STORAGE=s3, docs/object-storage.md).

django-storages does the writing. Links stay the shop's own (MEDIA_URL, as for
files on disk) and babyshop/media.py streams each object from the bucket: no
expiring presigned link ever lands in a cached page, browsers never need to
reach the store, and every file is sent with the same headers whichever
storage holds it.

No object is ever replaced or deleted by the shop: every upload is stored
under a name of its own (get_available_name), and Django leaves the file of a
deleted or changed row where it is. So a database backup of any age finds
every file it names still in the bucket; the bucket's own settings
(versioning) guard against others.
"""

import logging
import pathlib
import posixpath
from datetime import UTC, datetime
from urllib.parse import urljoin

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import storages
from django.http import Http404
from django.utils.encoding import filepath_to_uri
from django.utils.http import parse_http_date_safe
from storages.backends.s3 import S3Storage
from storages.utils import clean_name, safe_join

from babyshop.config import ConfigError
from babyshop.media import Unavailable, check_name

logger = logging.getLogger(__name__)

# A bucket that stops answering fails a request in seconds, not minutes
# (botocore's defaults: 60 s to connect, 60 s per read, retried).
CLIENT = {"connect_timeout": 5, "read_timeout": 20, "retries": {"mode": "standard", "max_attempts": 3}}


class BucketStorage(S3Storage):
    def __init__(self, **options):
        addressing = "path" if options.get("endpoint_url") else None  # other providers; AWS picks its own
        options.setdefault(
            "client_config", Config(signature_version="s3v4", s3={"addressing_style": addressing}, **CLIENT)
        )
        options.setdefault("file_overwrite", False)
        options.setdefault("default_acl", None)  # the bucket's: private
        super().__init__(**options)

    def get_available_name(self, name, max_length=None):
        """The name with a random suffix (duck.png: duck_k3Tq9Xa.png), then
        checked as Django checks any name. Not the name as given: two uploads
        of one name at the same instant would both find it free, and the later
        would replace the earlier's object (S3 has no create-if-absent that
        every provider offers)."""
        directory, file_name = posixpath.split(clean_name(name))
        extension = "".join(pathlib.PurePosixPath(file_name).suffixes)
        unique = self.get_alternative_name(file_name.removesuffix(extension), extension)
        return super().get_available_name(posixpath.join(directory, unique), max_length)

    def url(self, name):
        return urljoin(settings.MEDIA_URL, filepath_to_uri(name).lstrip("/"))

    def get_object(self, name, modified_since=None):
        """The object's GetObject response; None if not modified since that time.

        FileNotFoundError if there is none; BotoCoreError or ClientError if the
        bucket cannot be read.
        """
        conditions = {"IfModifiedSince": modified_since} if modified_since else {}
        try:
            return self.connection.meta.client.get_object(
                Bucket=self.bucket_name, Key=safe_join(self.location, name), **conditions
            )
        except ClientError as exc:
            status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            if status == 304:
                return None
            if status == 404:
                raise FileNotFoundError(name) from None
            raise


def open_object(path, since):
    """(body, size, modified) for babyshop/media.py; None if not modified since then."""
    check_name(path)
    since = parse_http_date_safe(since) if since else None
    try:
        found = storages["default"].get_object(path, since and datetime.fromtimestamp(since, UTC))
    except FileNotFoundError:
        raise Http404("no such file") from None
    except (BotoCoreError, ClientError) as exc:
        logger.error("media %s: the bucket cannot be read: %s", path, describe(exc))
        raise Unavailable from None
    if found is None:
        return None
    return found["Body"], found["ContentLength"], found["LastModified"].timestamp()


def describe(exc):
    """One line for what went wrong talking to the bucket."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = str(exc.response["ResponseMetadata"]["HTTPStatusCode"])
        # A HEAD's error has no body: botocore then gives the status as the code.
        words = [status, error.get("Code", status), error.get("Message", "")]
        return " ".join(dict.fromkeys(word for word in words if word))
    return str(exc).splitlines()[0]


def check():
    """A ConfigError in one line unless the bucket answers to the configured keys."""
    storage = storages["default"]
    where = f"bucket {storage.bucket_name!r} at {storage.endpoint_url or 'AWS S3'}"
    try:
        storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
    except ClientError as exc:
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        if status in (401, 403):
            raise ConfigError(
                f"{where} refused S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY ({describe(exc)}): "
                "expected keys allowed to read, write and list it"
            ) from None
        if status == 404:
            raise ConfigError(f"{where} does not exist: create it (private) or correct S3_BUCKET") from None
        raise ConfigError(f"{where} answered {describe(exc)}: check S3_ENDPOINT_URL and S3_REGION") from None
    except BotoCoreError as exc:
        raise ConfigError(f"{where} cannot be reached ({describe(exc)}): check S3_ENDPOINT_URL") from None
