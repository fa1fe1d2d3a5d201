"""MEDIA_STORAGE=s3: uploads in a private bucket of a real S3-compatible
store (SeaweedFS), served by the shop under /media/ as files on disk are."""

import logging
import re
import sys
import urllib.error
import urllib.request

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from babyshop.tests.pictures import picture
from babyshop.tests.test_config import assert_config_error, manage

# The 404 page may query the database (the site's menu).
pytestmark = pytest.mark.django_db


def stored(bucket, name):
    return bucket.connection.meta.client.get_object(Bucket=bucket.bucket_name, Key=name)["Body"].read()


def test_an_upload_is_an_object_the_shop_serves(client, bucket):
    name = default_storage.save("uploads/duck.png", ContentFile(picture()))
    assert stored(bucket, name) == picture()
    assert default_storage.url(name) == f"/media/{name}"
    response = client.get(f"/media/{name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == picture()
    response.close()
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(picture()))
    assert response["Cache-Control"] == "public, max-age=86400"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    again = client.get(f"/media/{name}", HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    assert again.status_code == 304


def test_anything_but_a_picture_is_a_download(client, bucket):
    name = default_storage.save("uploads/page.html", ContentFile(b"<script>alert(1)</script>"))
    response = client.get(f"/media/{name}")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    response.close()


def test_uploads_stay_private(bucket):
    """No upload asks for an ACL (the bucket's own, private, applies; SeaweedFS
    would ignore one) and the store refuses to give it to anyone unsigned."""
    requests = []
    bucket.connection.meta.client.meta.events.register(
        "before-call.s3.PutObject", lambda params, **kwargs: requests.append(params)
    )
    name = default_storage.save("uploads/duck.png", ContentFile(picture()))
    (request,) = requests
    assert not [
        header for header in request["headers"] if header.lower().startswith(("x-amz-acl", "x-amz-grant"))
    ]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{bucket.endpoint_url}/{bucket.bucket_name}/{name}", timeout=10)  # noqa: S310
    refused.value.close()
    assert refused.value.code == 403


def test_no_object_is_replaced(bucket, monkeypatch):
    """What makes a database backup enough (docs/object-storage.md). Two
    uploads of one name at the same instant: each finds the name free (neither
    has written yet), and still neither replaces the other's object."""
    monkeypatch.setattr(type(bucket), "exists", lambda self, name: False)
    first = default_storage.save("uploads/duck.png", ContentFile(picture("PNG")))
    second = default_storage.save("uploads/duck.png", ContentFile(picture("PNG", size=(8, 8))))
    assert re.fullmatch(r"uploads/duck_[A-Za-z0-9]{7}\.png", first)
    assert second != first
    assert stored(bucket, first) == picture("PNG")
    assert stored(bucket, second) == picture("PNG", size=(8, 8))


@pytest.mark.parametrize(
    "path", ["/media/uploads/none.png", "/media/.restore-1/duck.png", "/media/uploads//duck.png"]
)
def test_missing_and_hidden_names_are_not_found(client, bucket, path):
    bucket.bucket.put_object(Key=".restore-1/duck.png", Body=picture())
    assert client.get(path).status_code == 404


def test_a_bucket_that_cannot_be_read_is_a_503_and_one_log_line(client, bucket, settings, caplog):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"]}},
    }
    settings.STORAGES["default"]["OPTIONS"]["secret_key"] = "wrong-secret"
    with caplog.at_level(logging.ERROR, logger="babyshop.buckets"):
        response = client.get("/media/uploads/duck.png")
    assert response.status_code == 503
    (record,) = [record for record in caplog.records if record.name == "babyshop.buckets"]
    assert record.getMessage().startswith("media uploads/duck.png: the bucket cannot be read: 403")
    assert "wrong-secret" not in record.getMessage()


def start(bucket, **variables):
    """manage.py prestart (web's first step) with MEDIA_STORAGE=s3 on this bucket."""
    settings = {
        "MEDIA_STORAGE": "s3",
        "S3_BUCKET": bucket.bucket_name,
        "S3_ENDPOINT_URL": bucket.endpoint_url,
        "S3_ACCESS_KEY_ID": bucket.access_key,
        "S3_SECRET_ACCESS_KEY": bucket.secret_key,
        "MIGRATE_ON_START": "false",
    }
    return manage("prestart", **{**settings, **variables})


class TestStartCheck:
    def test_a_bucket_that_answers_passes(self, bucket):
        result = start(bucket)
        assert result.returncode == 0, result.stderr

    def test_wrong_keys_stop_the_start_in_one_line(self, bucket):
        result = start(bucket, S3_SECRET_ACCESS_KEY="not-the-secret-key")
        assert_config_error(
            result,
            f"bucket '{bucket.bucket_name}' at {bucket.endpoint_url} refused",
            "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY",
            secret="not-the-secret-key",
        )

    def test_a_missing_bucket_stops_the_start(self, bucket):
        result = start(bucket, S3_BUCKET="no-such-bucket")
        assert_config_error(result, "bucket 'no-such-bucket'", "does not exist: create it (private)")

    def test_an_unreachable_store_stops_the_start(self, bucket):
        result = start(bucket, S3_ENDPOINT_URL="http://127.0.0.1:9")
        assert_config_error(result, "at http://127.0.0.1:9 cannot be reached", "check S3_ENDPOINT_URL")


def test_boto3_is_loaded_only_for_a_bucket():
    code = (
        "import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'babyshop.settings'; "
        "django.setup(); import babyshop.urls; print('boto3' in sys.modules)"
    )
    result = manage("-c", code, program=(sys.executable,))
    assert result.stdout.strip() == "False", result.stderr
