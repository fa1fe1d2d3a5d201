"""Clients that send or read slowly cost the proxy a connection, never one of
gunicorn's threads: twice as many slow senders as web has threads, and as
many slow readers, held for a minute while the site keeps answering."""

import collections
import json
import socket
import ssl
import statistics
import threading
import time

from conftest import client, csrf_token, inspect, png

HOLD_SECONDS = 60
ANSWER_WITHIN = 1.0  # seconds, for each GET while the slow clients are held
DECLARED_BODY = 1_000_000


def app_threads(stack):
    """gunicorn threads across every web container (workers x threads x replicas)."""
    settings = stack.exec(
        "web", "python", "manage.py", "shell", "-c",
        "import json; from django.conf import settings; print(json.dumps(settings.GUNICORN))",
    ).stdout  # fmt: skip
    server = json.loads(settings.strip().splitlines()[-1])
    replicas = len(stack.containers("web"))
    return server["workers"], server["threads"], replicas


class SlowClients:
    """Raw TLS connections to the proxy, each fed or drained a little every
    few seconds by one background thread."""

    def __init__(self, stack):
        self.stack = stack
        self.context = ssl.create_default_context(cafile=stack.http.verify)
        self.connections = []  # (kind, tls socket, progress: [bytes, the error that ended it])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._feed)

    def connect(self, receive_buffer=None):
        raw = socket.socket()
        if receive_buffer:
            # Set before connecting, so that the window the server sees is small.
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        raw.settimeout(10)
        raw.connect(("127.0.0.1", self.stack.https_port))
        return self.context.wrap_socket(raw, server_hostname="localhost")

    def start_sender(self, path, cookie, token):
        """A form POST that declares DECLARED_BODY bytes, sends its first field,
        then one byte at a time: the log-in form, with a valid CSRF cookie and
        token and a same-site Origin, so nothing refuses it early."""
        tls = self.connect()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: localhost:{self.stack.https_port}\r\n"
            f"Origin: {self.stack.url}\r\nReferer: {self.stack.url}{path}\r\n"
            f"Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {DECLARED_BODY}\r\n\r\n"
            f"csrfmiddlewaretoken={token}&username=slow&password="
        )
        tls.sendall(head.encode())
        self.connections.append(("sender", tls, [0, None]))

    def start_reader(self, path):
        """A GET of a large file read a few bytes at a time through a small
        receive window."""
        tls = self.connect(receive_buffer=4096)
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost:{self.stack.https_port}\r\n\r\n".encode())
        self.connections.append(("reader", tls, [0, None]))

    def _feed(self):
        while not self.stop.wait(2):
            for kind, tls, progress in self.connections:
                if progress[1]:
                    continue
                try:
                    if kind == "sender":
                        tls.sendall(b"x")
                        progress[0] += 1
                    else:
                        data = tls.recv(256)
                        if not data:  # the proxy closed it
                            raise ConnectionResetError("closed by the proxy")
                        progress[0] += len(data)
                except OSError as error:
                    progress[1] = repr(error)  # the proxy dropped it: counted below

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
        for _, tls, _ in self.connections:
            tls.close()

    def alive(self, kind):
        return sum(1 for k, _, progress in self.connections if k == kind and not progress[1])

    def errors(self):
        """How the dropped connections ended, and the proxy's restarts: to
        tell a proxy that died from one that closed them."""
        ended = collections.Counter(f"{kind}: {progress[1]}" for kind, _, progress in self.connections)
        proxy = self.stack.containers("proxy")[0]
        restarts = inspect(proxy, "{{.RestartCount}} restarts, OOM-killed {{.State.OOMKilled}}")
        return f"{dict(ended)}; proxy: {restarts}"


def timed_gets(stack, paths, seconds):
    """GET each path about twice a second for `seconds`; the answer times."""
    visitor = client(verify=stack.http.verify)
    took = {path: [] for path in paths}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for path in paths:
            sent = time.monotonic()
            try:
                status = visitor.get(stack.url + path, timeout=30).status_code
            except OSError as error:
                status = type(error).__name__
            took[path].append((time.monotonic() - sent, status))
        time.sleep(0.5)
    return took


def test_slow_senders_and_readers_hold_no_app_thread(stack, figures, request):
    """Before: 40 log-in POSTs trickling one byte every 2 s held every gunicorn
    thread, and GET / was answered after 55 s."""
    workers, threads, replicas = app_threads(stack)
    count = 2 * workers * threads * replicas
    picture = png(1800, 1800)  # random pixels, 9.7 MB: under MAX_UPLOAD_SIZE
    media = stack.place_upload("uploads/slow-reader-target.png", picture)
    assert len(stack.get(media).content) == len(picture)

    visitor = client(verify=stack.http.verify)
    form = visitor.get(stack.url + "/accounts/login/", timeout=10)
    cookie = "; ".join(f"{name}={value}" for name, value in visitor.cookies.items())
    token = csrf_token(form)

    # Cut short at the end, the senders' bodies are no log-in at all; were
    # they ever passed on, they would count as failures: forget them after.
    request.addfinalizer(lambda: stack.exec("web", "python", "manage.py", "axes_reset"))
    with SlowClients(stack) as slow:
        for _ in range(count):
            slow.start_sender("/accounts/login/", cookie, token)
            slow.start_reader(media)
        time.sleep(5)  # every one of them has reached the proxy, and web if it would
        took = timed_gets(stack, ["/", "/healthz"], HOLD_SECONDS)
        senders, readers, errors = slow.alive("sender"), slow.alive("reader"), slow.errors()
        read = max(progress[0] for kind, _, progress in slow.connections if kind == "reader")

    for path, answers in took.items():
        statuses = {status for _, status in answers}
        assert statuses == {200}, (path, statuses)
        slowest = max(seconds for seconds, _ in answers)
        assert slowest < ANSWER_WITHIN, f"{path}: slowest answer {slowest:.2f}s with slow clients held"
    assert senders == count, (
        f"only {senders} of {count} slow senders were still connected at the end: {errors}"
    )
    assert readers == count, (
        f"only {readers} of {count} slow readers were still connected at the end: {errors}"
    )
    assert read < len(picture), "the readers were still reading"
    summary = ", ".join(
        f"{path} {len(answers)} answers, median {statistics.median(s for s, _ in answers) * 1000:.0f} ms, "
        f"slowest {max(s for s, _ in answers) * 1000:.0f} ms"
        for path, answers in took.items()
    )
    figures.append(
        f"slow clients: {count} log-in POSTs sending 1 byte every 2 s and {count} readers of a "
        f"{len(picture) / 1e6:.1f} MB picture ({workers} workers x {threads} threads x {replicas} web = "
        f"{workers * threads * replicas} app threads) held for {HOLD_SECONDS} s: {summary}"
    )
