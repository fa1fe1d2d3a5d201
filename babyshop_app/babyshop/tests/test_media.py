"""/media/ serves the uploaded files and nothing else, whatever is planted there."""

import os
import threading

import pytest
from django.http import Http404
from django.utils.http import http_date

from babyshop.media import open_beneath
from babyshop.tests.pictures import picture

# The 404 page may query the database (the site's menu).
pytestmark = pytest.mark.django_db


@pytest.fixture
def media(media_root, tmp_path):
    """MEDIA_ROOT with one upload, and a secret kept beside it (like the proxy's key)."""
    (media_root / "uploads").mkdir(parents=True)
    (media_root / "uploads" / "duck.png").write_bytes(picture())
    secret = tmp_path / "outside" / "root.key"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN PRIVATE KEY-----\n")
    return media_root, secret


def test_an_upload_is_served_as_an_image(client, media):
    response = client.get("/media/uploads/duck.png")
    assert response.status_code == 200
    media_root, _ = media
    assert b"".join(response.streaming_content) == (media_root / "uploads" / "duck.png").read_bytes()
    response.close()
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_an_unchanged_file_is_not_sent_again(client, media):
    media_root, _ = media
    modified = http_date((media_root / "uploads" / "duck.png").stat().st_mtime)
    assert client.get("/media/uploads/duck.png", HTTP_IF_MODIFIED_SINCE=modified).status_code == 304


def test_anything_but_a_picture_is_a_download(client, media):
    media_root, _ = media
    (media_root / "uploads" / "page.html").write_text("<script>alert(1)</script>")
    response = client.get("/media/uploads/page.html")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    response.close()


def hard_link(root, secret):
    (root / "uploads" / "hard.png").hardlink_to(root / "uploads" / "duck.png")


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(lambda root, secret: (root / "uploads" / "key.png").symlink_to(secret), id="file-link"),
        pytest.param(
            lambda root, secret: (root / "uploads" / "dir").symlink_to(secret.parent), id="dir-link"
        ),
        pytest.param(lambda root, secret: (root / "uploads" / "up").symlink_to("../.."), id="relative-link"),
        pytest.param(hard_link, id="hard-link"),
        pytest.param(lambda root, secret: os.mkfifo(root / "uploads" / "fifo.png"), id="fifo"),
    ],
)
def test_planted_links_lead_nowhere(client, media, plant):
    media_root, secret = media
    plant(media_root, secret)
    for path in (
        "/media/uploads/key.png",
        "/media/uploads/dir/root.key",
        f"/media/uploads/up/{secret.parent.name}/root.key",
        "/media/uploads/hard.png",
        "/media/uploads/fifo.png",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"PRIVATE KEY" not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_a_fifo_does_not_hang_the_worker(media):
    """Opening a FIFO for reading would wait for a writer for ever."""
    media_root, _ = media
    os.mkfifo(media_root / "uploads" / "wait.png")
    outcomes = []

    def open_it():
        try:
            open_beneath(media_root, "uploads/wait.png")
        except Http404:
            outcomes.append("not found")

    thread = threading.Thread(target=open_it, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert outcomes == ["not found"]


@pytest.mark.parametrize(
    "path",
    [
        "/media/../settings.py",
        "/media/uploads/../../outside/root.key",
        "/media/%2e%2e/outside/root.key",
        "/media/uploads/%2e%2e/%2e%2e/outside/root.key",
        "/media//etc/passwd",
        "/media/.restore-1/uploads/duck.png",
        "/media/uploads/duck.png%00.txt",
    ],
)
def test_path_tricks_are_not_found(client, media, path):
    media_root, _ = media
    (media_root / ".restore-1" / "uploads").mkdir(parents=True)
    (media_root / ".restore-1" / "uploads" / "duck.png").write_bytes(b"kept")
    assert client.get(path).status_code == 404


def test_only_reading_is_allowed(client, media):
    assert client.post("/media/uploads/duck.png").status_code == 405
