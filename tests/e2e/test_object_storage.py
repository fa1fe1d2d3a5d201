"""MEDIA_STORAGE=s3 in the production stack, on a real S3-compatible store
(SeaweedFS): uploads land in the bucket and nowhere on disk, are served
through the proxy, a bucket that refuses web stops its start in one line,
and backup and restore leave the bucket alone (docs/object-storage.md)."""

import hashlib
import os
import shutil
import subprocess

import pytest

from conftest import BUCKET, BUCKET_SECRET, ROOT, last_line, make, png, prod_up_refusal, run

SAVE = (
    "import os, sys; from django.core.files.base import ContentFile;"
    " from django.core.files.storage import default_storage as s;"
    " print(s.save(os.environ['NAME'], ContentFile(sys.stdin.buffer.read())))"
)


def upload(stack, name, content):
    """Save a file as any app's upload is saved (Django's default storage, in
    web); the name it was stored under."""
    command, options = stack.compose_command(
        ["exec", "-T", "-e", f"NAME={name}", "web", "python", "manage.py", "shell", "-c", SAVE]
    )
    saved = subprocess.run(command, input=content, capture_output=True, check=True, timeout=60, **options)
    return saved.stdout.decode().strip().splitlines()[-1]


def operate(stack, **extra):
    return {"ENV_FILE": str(stack.env_file), "COMPOSE_PROJECT_NAME": stack.project, **extra}


def test_an_upload_is_an_object_in_the_bucket_served_through_the_proxy(bucket_stack):
    picture = png(24, 16, (30, 160, 90))
    name = upload(bucket_stack, "uploads/bucket-bib.png", picture)
    assert bucket_stack.objects.read(name) == picture
    assert bucket_stack.exec("web", "ls", "-A", "/app/media").stdout == "", "nothing is kept on web's disk"
    served = bucket_stack.get(f"/media/{name}")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert served.content == picture
    again = bucket_stack.get(f"/media/{name}", headers={"If-Modified-Since": served.headers["Last-Modified"]})
    assert again.status_code == 304
    assert bucket_stack.get("/media/uploads/no-such-bib.png").status_code == 404


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"S3_SECRET_ACCESS_KEY_FILE": "", "S3_SECRET_ACCESS_KEY": "a-wrong-secret-never-printed"},
            "configuration error: bucket 'media' at http://objects:8333 refused S3_ACCESS_KEY_ID and "
            "S3_SECRET_ACCESS_KEY (403 Forbidden): expected keys allowed to read, write and list it",
        ),
        (
            {"S3_BUCKET": "no-such-bucket"},
            "configuration error: bucket 'no-such-bucket' at http://objects:8333 does not exist: "
            "create it (private) or correct S3_BUCKET",
        ),
        (
            {"S3_ENDPOINT_URL": "http://objects-gone:8333"},
            "configuration error: bucket 'media' at http://objects-gone:8333 cannot be reached",
        ),
    ],
    ids=["wrong keys", "no such bucket", "store unreachable"],
)
def test_a_bucket_that_refuses_web_stops_its_start_in_one_line(bucket_stack, change, message):
    """web's one-off start, as make prod-up's release step runs it."""
    overrides = [item for name, value in change.items() for item in ("-e", f"{name}={value}")]
    result = bucket_stack.compose(
        "run", "--rm", "--no-deps", "-e", "MIGRATE_ON_START=false", *overrides, "web", "true", check=False
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr
    assert "Traceback" not in result.stderr
    for secret in [BUCKET_SECRET, "a-wrong-secret-never-printed"]:
        assert secret not in result.stdout + result.stderr


def test_backup_and_restore_leave_the_bucket_alone(bucket_stack, tmp_path):
    """The backup holds the database (and an empty media archive); a restore
    puts the database back and every object stays, those uploaded after the
    backup included. A backup whose media archive holds files is refused."""
    before = png(20, 20, (200, 100, 50))
    kept = upload(bucket_stack, "uploads/before-backup.png", before)
    backups = tmp_path / "backups"
    made = make("backup", env=operate(bucket_stack, BACKUP_DIR=str(backups)))
    assert f"backup: the uploads are in bucket {BUCKET['S3_BUCKET']}, which keeps them" in made.stdout
    (backup,) = backups.iterdir()
    listed = run("tar", "-tf", str(backup / "media.tar")).stdout.split()
    assert listed == ["./"], "web's media directory is empty: nothing of the bucket is copied"
    after = png(20, 20, (50, 100, 200))
    later = upload(bucket_stack, "uploads/after-backup.png", after)

    with_files = tmp_path / "with-files"
    shutil.copytree(backup, with_files)
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "old.png").write_bytes(before)
    run("tar", "-C", str(tmp_path), "-cf", str(with_files / "media.tar"), "./uploads")
    sums = "".join(
        f"{hashlib.sha256((with_files / name).read_bytes()).hexdigest()}  {name}\n"
        for name in ["database.dump", "media.tar", "contents.txt"]
    )
    (with_files / "SHA256SUMS").write_text(sums)
    refused = make("restore", f"BACKUP={with_files}", "CONFIRM=yes", env=operate(bucket_stack), check=False)
    assert refused.returncode != 0
    assert last_line(refused) == (
        f"restore: verify step failed: {with_files}/media.tar holds uploads, but MEDIA_STORAGE=s3 keeps them "
        "in the bucket: copy them there first (docs/object-storage.md); nothing was changed"
    )

    make("restore", f"BACKUP={backup}", "CONFIRM=yes", env=operate(bucket_stack))
    make("restore-cleanup", env=operate(bucket_stack))
    bucket_stack.wait_for_proxy()
    assert bucket_stack.get(f"/media/{kept}").content == before
    assert bucket_stack.get(f"/media/{later}").content == after


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("MEDIA_STORAGE=ftp\n", "MEDIA_STORAGE='ftp' is not valid: expected local or s3"),
        ("MEDIA_STORAGE=s3\nS3_ACCESS_KEY_ID=key\n", "MEDIA_STORAGE=s3 needs S3_BUCKET: expected the bucket"),
        ("MEDIA_STORAGE=S3\nS3_BUCKET=media\n", "MEDIA_STORAGE=s3 needs S3_ACCESS_KEY_ID"),
    ],
)  # fmt: skip
def test_the_switch_without_its_settings_stops_prod_up_before_anything_starts(tmp_path, settings, message):
    assert prod_up_refusal(tmp_path, settings).startswith(f"prod-up: {message}")


def test_make_secrets_without_the_key_or_a_terminal_says_how_to_give_it(tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"SITE_DOMAIN=localhost\nSECRETS_DIR={tmp_path / 'secrets'}\nMEDIA_STORAGE=s3\n")
    environment = {
        key: value for key, value in os.environ.items() if key not in ("SECRETS_DIR", "S3_SECRET_ACCESS_KEY")
    }
    result = run(
        str(ROOT / "scripts" / "make-secrets.sh"), env={**environment, "ENV_FILE": str(env_file)},
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "make-secrets: MEDIA_STORAGE=s3 and no terminal to ask on: "
        "set S3_SECRET_ACCESS_KEY in the environment to the bucket's secret access key"
    )
    assert not (tmp_path / "secrets" / "s3_secret_key").exists()
