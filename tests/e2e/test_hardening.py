"""The production stack against hostile input: oversized bodies, planted links,
password guessing, probes of internal endpoints, and a database that goes away."""

import json
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import client, csrf_token, inspect, png

MiB = 1024 * 1024
# A session cookie (of no session): the page is rendered for it, which reads the session.
SESSION = {"Cookie": "__Host-sessionid=no-such-session"}
WEB_TMP = "/tmp"  # noqa: S108 (the web container's tmpfs, looked at, not written)
PAGES = {"home": "/", "log-in": "/accounts/login/", "admin": "/admin/"}


@pytest.fixture
def admin(stack):
    stack.login_admin()
    return stack


@pytest.fixture
def unlocked(stack):
    """Throttling tests lock out this machine's address: clear it afterwards."""
    yield stack
    stack.exec("web", "python", "manage.py", "axes_reset")


def announce_body(stack, path, length):
    """Send only a POST's head, declaring a body of `length` bytes, and read the
    answer: what the proxy says before a single byte of the body is sent."""
    context = ssl.create_default_context(cafile=stack.http.verify)
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n\r\n"
    with (
        socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(head.encode())
        return tls.recv(4096).decode(errors="replace").split("\r\n", 1)[0]


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/"])
def test_oversized_bodies_are_refused_before_they_are_read(stack, figures, path):
    """Before: 30 MiB to the log-in form got 200, 80 MiB a 500 with web's /tmp full."""
    started = time.monotonic()
    assert announce_body(stack, path, 11 * MiB + 1) == "HTTP/1.1 413 Request Entity Too Large"
    seconds = time.monotonic() - started
    tmp_before = stack.exec("web", "df", "--output=used", WEB_TMP).stdout
    for megabytes in (30, 80):
        try:
            status = stack.http.post(stack.url + path, data=b"x" * (megabytes * MiB), timeout=30).status_code
        except requests.ConnectionError:
            status = "closed"  # the proxy answered and hung up while the body was still being sent
        assert status in (413, "closed"), megabytes
    assert stack.exec("web", "df", "--output=used", WEB_TMP).stdout == tmp_before, (
        "nothing reached web's /tmp"
    )
    if path == "/":
        figures.append(f"413 for a body over MAX_REQUEST_BODY, from its head alone: {seconds * 1000:.0f} ms")


def test_files_over_max_upload_size_at_once_are_answered(stack, figures):
    """Before: a multipart body was spooled to web's 64 MiB /tmp, so ~7 big
    uploads at once filled it and every upload failed with a 500 (ENOSPC).
    Now 16 at once (more than the app's threads), each a 10.5 MiB file
    posted to a form, each get the form's page, and nothing reaches /tmp."""
    tmp_before = stack.exec("web", "df", "--output=used", WEB_TMP).stdout
    # 10.5 MiB: over MAX_UPLOAD_SIZE, under the proxy's 11 MiB.
    too_big = png(16, 16, (10, 20, 30)) + b"\0" * (10 * MiB + 512 * 1024)

    def upload(_):
        session = client(verify=stack.http.verify)
        form = session.get(stack.url + "/accounts/login/", timeout=30)
        response = session.post(
            stack.url + "/accounts/login/",
            data={"csrfmiddlewaretoken": csrf_token(form), "username": "nobody", "password": "wrong"},
            files={"picture": ("huge.png", too_big, "image/png")},
            headers={"Referer": stack.url + "/accounts/login/"},
            timeout=120,
        )
        return response.status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(upload, range(16)))
    seconds = time.monotonic() - started
    assert set(answers) <= {200, 429}, answers  # the form again (a lock-out counts as well)
    assert stack.exec("web", "df", "--output=used", WEB_TMP).stdout == tmp_before
    stack.exec("web", "python", "manage.py", "axes_reset")
    figures.append(f"16 uploads of 10.5 MiB at once: 16 answers, no 500, in {seconds:.1f} s")


def test_links_planted_in_the_media_volume_lead_nowhere(admin):
    """Before: a symlink written by web to the proxy's CA key was served over HTTPS."""
    src = admin.place_upload("uploads/linked-bib.png", png(8, 8, (1, 2, 3)))
    assert admin.get(src).status_code == 200
    key = "/data/caddy/pki/authorities/local/root.key"
    assert "PRIVATE KEY" in admin.exec("proxy", "cat", key).stdout
    plant = (
        f"cd /app/media/uploads && ln -s {key} key.png && ln -s /etc/passwd passwd.png"
        " && ln -s /proc/self/environ environ.png && ln -s / root && ln -s .. up"
        f" && ln {src.rsplit('/', 1)[1]} hard.png"
    )
    admin.exec("web", "sh", "-c", plant)
    for path in ("key.png", "passwd.png", "environ.png", "root/etc/passwd", "up/uploads/hard.png",
                 "hard.png", "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "root" + key):  # fmt: skip
        response = admin.get("/media/uploads/" + path)
        assert response.status_code == 404, path
        assert "PRIVATE KEY" not in response.text
        assert "root:x:0:0" not in response.text
    proxy = json.loads(admin.compose("config", "--format", "json").stdout)["services"]["proxy"]
    assert all(volume.get("source") != "media" for volume in proxy["volumes"]), "the proxy has no media"


def test_readyz_is_private(stack):
    for path in ("/readyz", "/READYZ", "/readyz/", "//readyz", "/%72eadyz", "/readyz?x=1"):
        assert stack.get(path).status_code == 404, path
    inside = (
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/readyz').read().decode())"
    )
    answer = json.loads(stack.exec("web", "python", "-c", inside).stdout)
    assert answer == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.parametrize("name", PAGES)
def test_browser_policies_on_every_kind_of_page(admin, name):
    response = admin.get(PAGES[name])
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]


def log_in(session, stack, username, password, **headers):
    form = session.get(stack.url + "/accounts/login/", timeout=10)
    return session.post(
        stack.url + "/accounts/login/",
        data={"csrfmiddlewaretoken": csrf_token(form), "username": username, "password": password},
        headers={"Referer": stack.url + "/accounts/login/", **headers},
        timeout=10,
        allow_redirects=False,
    )


def test_password_guessing_is_throttled(unlocked, figures):
    stack = unlocked
    stack.exec(
        "web", "python", "manage.py", "shell", "-c",
        "from users.models import User; User.objects.create_user('guarded', password='Guarded-passw0rd-e2e')",
    )  # fmt: skip
    session = requests.Session()
    session.trust_env, session.verify = False, stack.http.verify
    # A fresh forged X-Forwarded-For on every try: the proxy replaces it, so
    # the guesses still count against this one address.
    statuses = [
        log_in(session, stack, "guarded", "wrong", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(6)
    ]
    assert statuses == [200] * 4 + [429, 429]
    locked = log_in(session, stack, "guarded", "Guarded-passw0rd-e2e")
    assert locked.status_code == 429, "the right password is refused from a locked-out address"
    assert "Too many failed log-in attempts" in locked.text
    stack.exec("web", "python", "manage.py", "axes_reset")
    assert log_in(session, stack, "guarded", "Guarded-passw0rd-e2e").status_code == 302
    figures.append("log-in throttling: the 5th failure for one username from one address answers 429")


def test_a_database_outage_gives_fast_503s_and_pages_come_back(stack, figures):
    """Stop db under light load, then start it again: no web restart. Each
    visit carries a session cookie, so every one needs the database (for its
    session)."""
    started_at = {web: inspect(web, "{{.State.StartedAt}}") for web in stack.containers("web")}
    outcomes, stop = [], threading.Event()

    def visitor():
        session = requests.Session()
        session.trust_env, session.verify = False, stack.http.verify
        while not stop.is_set():
            sent = time.monotonic()
            try:
                status = session.get(f"{stack.url}/", headers=SESSION, timeout=30).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            outcomes.append((sent, status, time.monotonic() - sent))
            time.sleep(0.1)

    thread = threading.Thread(target=visitor)
    thread.start()
    try:
        time.sleep(1)
        stack.compose("stop", "db")
        stopped = time.monotonic()
        time.sleep(6)
        stack.compose("start", "db")
        stack.compose("up", "--wait", "--no-recreate", "db")
        restarted = time.monotonic()
        deadline = restarted + 30
        while time.monotonic() < deadline and not (
            outcomes and outcomes[-1][1] == 200 and outcomes[-1][0] > restarted
        ):
            time.sleep(0.2)
        time.sleep(2)
    finally:
        stop.set()
        thread.join(timeout=60)
    down = [(sent, status, took) for sent, status, took in outcomes if stopped <= sent < restarted]
    assert down, "requests were made while the database was stopped"
    assert {status for _, status, _ in down} <= {200, 503}, down
    slowest_503 = max(took for _, status, took in down if status == 503)
    assert slowest_503 < 3, "pages fail fast, not after the gunicorn timeout"
    back = next(sent for sent, status, _ in outcomes if sent >= restarted and status == 200)
    after = [status for sent, status, _ in outcomes if sent >= back]
    assert set(after) == {200}, "every request succeeds once the database is back"
    first_503 = next(sent for sent, status, _ in outcomes if sent >= stopped and status == 503)
    for web, started in started_at.items():
        assert inspect(web, "{{.State.StartedAt}}") == started, "web was not restarted"
        assert inspect(web, "{{.RestartCount}}") == "0"
    figures.append(
        f"database outage: first 503 {first_503 - stopped:.1f}s after db stopped, slowest 503 answer "
        f"{slowest_503 * 1000:.0f} ms ({len(down)} requests while down); pages back {back - restarted:.1f}s "
        "after db was healthy again, no web restart"
    )
