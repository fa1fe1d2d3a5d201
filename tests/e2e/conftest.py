"""Drive the production stack from the host, as a user of the VM would.

Each stack runs under its own Compose project name, with a generated env file
and free 127.0.0.1 ports, and is always torn down with its volumes, even when
a test or the start-up fails.
"""

import collections
import contextlib
import fcntl
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import uuid
import warnings
import zlib
from pathlib import Path

import pytest
import requests
import urllib3

ROOT = Path(__file__).resolve().parents[2]
# The Django project package (make rename changes it).
PROJECT = next(ROOT.glob("*_app/*/settings.py")).parent.name
PROD_COMPOSE = ROOT / "docker-compose.prod.yml"
RUN_ID = uuid.uuid4().hex[:8]
ADMIN_PASSWORD = "e2e-Admin-passw0rd-not-secret"
# The settings of the stack most tests share: its worker sends mail to the
# catcher (MailCatcher) and retries a failure after 1, 2, 4... seconds.
SHARED = {
    "COMPOSE_PROFILES": "cache",
    "MONITORING": "true",
    "ALERT_EMAIL": "ops@example.com",
    "SMTP_HOST": "mailcatcher",
    "SMTP_PORT": "1025",
    "SMTP_SECURITY": "NONE",
    "TASK_RETRY_SECONDS": "1",
}
# MEDIA_STORAGE=s3 on the ObjectStore below.
BUCKET = {
    "MEDIA_STORAGE": "s3",
    "S3_BUCKET": "media",
    "S3_ENDPOINT_URL": "http://objects:8333",
    "S3_ACCESS_KEY_ID": "babyshop-e2e",
}
BUCKET_SECRET = "e2e-bucket-secret-never-printed"
# The settings of the stack with MEDIA_STORAGE=s3 (bucket_stack).
BUCKET_STACK = dict(BUCKET)
# demo: start
# With the demo catalog, for the demo's own tests (tests/e2e/demo/).
SHARED["SEED_DEMO"] = BUCKET_STACK["SEED_DEMO"] = "true"
# demo: end
IMAGE = "babyshop-e2e"
TAG = RUN_ID


def run(*args, check=True, timeout=600, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def wait_until(predicate, what, timeout=60, detail=lambda: ""):
    """Poll predicate every half second; fail after timeout seconds, naming
    what was awaited (and what detail() says: a log, say)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}\n{detail()}"
        time.sleep(0.5)


def copy_working_tree(path):
    """The files git would commit from the working tree (tracked, and
    untracked but not ignored) copied to path: what a clone of it will hold."""
    listed = run("git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, path / name)
        else:
            (path / name).unlink(missing_ok=True)


def committed_clone(path):
    """A clone of this repository at path, with the working tree committed on
    top: what a user of this tree would clone."""
    run("git", "clone", "--quiet", str(ROOT), str(path))
    run("git", "-C", str(path), "config", "user.email", "e2e@example.com")
    run("git", "-C", str(path), "config", "user.name", "e2e")
    copy_working_tree(path)
    run("git", "-C", str(path), "add", "--all")
    run("git", "-C", str(path), "commit", "--quiet", "--allow-empty", "--message", "the working tree")
    return path


def edit(path, old, new):
    """Replace the first old in the file with new; old must be there."""
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def remove_dev_stack(project, cwd):
    """Everything of a dev stack (docker-compose.yml under project): its
    containers, the cache's and the object store's included, networks
    and volumes."""
    dev = ["docker", "compose", "-p", project, "--env-file", "/dev/null", "-f", "docker-compose.yml"]
    profiles = ["--profile", "cache", "--profile", "object-storage"]
    run(*dev, *profiles, "down", "--volumes", "--remove-orphans", cwd=cwd, check=False)


def prod_up_refusal(tmp_path, settings):
    """make prod-up's one line for an env file of SITE_DOMAIN plus settings
    (with the secrets make secrets creates for them): it must stop before
    anything starts."""
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"SITE_DOMAIN=localhost\nSECRETS_DIR={tmp_path / 'secrets'}\n{settings}")
    environment = {key: value for key, value in os.environ.items() if key != "SECRETS_DIR"}
    environment.update(ENV_FILE=str(env_file), S3_SECRET_ACCESS_KEY=BUCKET_SECRET)
    run(str(ROOT / "scripts" / "make-secrets.sh"), env=environment, check=False)
    result = run(str(ROOT / "scripts" / "prod-up.sh"), env=environment, check=False)
    (line,) = result.stderr.strip().splitlines()
    assert result.returncode == 2
    return line


def png(width, height, rgb=None):
    """A valid PNG made without Pillow (the host has only the test tools): of
    one colour, or of random pixels (rgb=None), which do not compress, so the
    file is as large as its pixels (width * height * 3 bytes)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    def row():
        return os.urandom(width * 3) if rgb is None else bytes(rgb) * width

    rows = b"".join(b"\x00" + row() for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def csrf_token(response):
    """The CSRF token of the first form on a page."""
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text).group(1)


def client(verify=True):
    """An HTTP client that ignores the host's proxy and CA-bundle variables:
    requests would let REQUESTS_CA_BUNDLE override a session's `verify`."""
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    return session


def anonymous(stack):
    """A visitor of the stack who is not logged in (the stack's own client may be)."""
    return client(verify=stack.http.verify)


def wait_for_https(url, logs, timeout=60):
    """Caddy has no healthcheck: wait until it serves HTTPS end to end."""
    probe = client(verify=False)  # readiness only; the tests verify the CA
    deadline = time.monotonic() + timeout
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                if probe.get(url + "/healthz", timeout=5).status_code == 200:
                    return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the proxy did not serve HTTPS within {timeout}s:\n{logs()}")
        time.sleep(0.5)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Shop:
    """What a visitor and the admin do over HTTPS, against any deployment
    that has a url, an http client and a way to create_admin()."""

    def login_admin(self):
        """Create the superuser (once per deployment: create_admin) and log
        this client in through the admin form."""
        self.create_admin()
        form = self.get("/admin/login/?next=/admin/")
        response = self.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": csrf_token(form), "username": "boss", "password": ADMIN_PASSWORD},
        )
        assert response.status_code == 200
        assert "Site administration" in response.text

    def get(self, path, **kwargs):
        return self.http.get(self.url + path, timeout=10, **kwargs)

    def post(self, path, **kwargs):
        # Django checks the Referer of HTTPS form posts, as browsers send it.
        headers = {"Referer": self.url + path, **kwargs.pop("headers", {})}
        return self.http.post(self.url + path, timeout=30, headers=headers, **kwargs)


class Stack(Shop):
    """One Compose project of docker-compose.prod.yml, with its own secrets,
    env file and free 127.0.0.1 ports for the proxy."""

    def __init__(self, tmp_path, name, root=ROOT, **settings):
        self.project = f"babyshop-e2e-{RUN_ID}-{name}"
        self.root = root  # the checkout whose docker-compose.prod.yml runs
        self.dir = tmp_path
        self.http_port, self.https_port, self.prometheus_port = free_port(), free_port(), free_port()
        self.secrets_dir = tmp_path / "secrets"
        self.env_file = tmp_path / f"{name}.env"
        self.settings = {
            "IMAGE": IMAGE,
            "TAG": TAG,
            "SITE_DOMAIN": "localhost",
            "SECRETS_DIR": str(self.secrets_dir),
            # Tests publish on 127.0.0.1 and free ports, never on the host's 80/443.
            "HTTP_PORT": f"127.0.0.1:{self.http_port}",
            "HTTPS_PORT": f"127.0.0.1:{self.https_port}",
            "PROMETHEUS_PORT": f"127.0.0.1:{self.prometheus_port}",
            **settings,
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))
        run(
            str(ROOT / "scripts" / "make-secrets.sh"),
            env={**os.environ, "ENV_FILE": str(self.env_file), "S3_SECRET_ACCESS_KEY": BUCKET_SECRET},
        )
        self.url = f"https://localhost:{self.https_port}"
        self.http = client()

    def secrets(self):
        """The secret values, to look for where they must not be (smtp_password
        is left empty)."""
        return [value for path in sorted(self.secrets_dir.iterdir()) if (value := path.read_text().strip())]

    def compose_command(self, args):
        """docker compose as the production scripts run it: scripts/compose.sh
        picks the compose files the env file's settings call for."""
        command = [str(self.root / "scripts" / "compose.sh"), *args]
        env = {**os.environ, "ENV_FILE": str(self.env_file), "COMPOSE_PROJECT_NAME": self.project}
        return command, {"cwd": self.root, "env": env}

    def compose(self, *args, check=True, timeout=600):
        command, options = self.compose_command(args)
        return run(*command, check=check, timeout=timeout, **options)

    def compose_process(self, *args):
        """Start a compose command in the background (output discarded)."""
        command, options = self.compose_command(args)
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options)

    def up(self, *args):
        started = time.monotonic()
        result = self.compose(
            "up", "--detach", "--wait", "--wait-timeout", "240", *args, check=False, timeout=300
        )
        if result.returncode != 0:
            raise AssertionError(f"stack did not become healthy:\n{result.stderr}\n{self.logs()}")
        if not args:
            self.wait_for_proxy()
        return time.monotonic() - started

    def wait_for_proxy(self):
        wait_for_https(self.url, lambda: self.logs("proxy"))

    def trust_proxy_ca(self):
        """Verify HTTPS against the root of Caddy's local CA, from its volume."""
        root = self.dir / "caddy-root.crt"
        self.compose("cp", "proxy:/data/caddy/pki/authorities/local/root.crt", str(root))
        self.http.verify = str(root)

    def down(self):
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.down()  # volumes included, whether the block failed or not

    def logs(self, service=None):
        args = ["logs", "--no-color", "--no-log-prefix"] + ([service] if service else [])
        return self.compose(*args, check=False).stdout

    def exec(self, service, *command, check=True):
        return self.compose("exec", "-T", service, *command, check=check)

    def containers(self, service):
        return self.compose("ps", "--quiet", service).stdout.split()

    def psql(self, sql, user=None):
        """SQL in the shop's database, over db's socket: as web's role, or as
        another (user="postgres", the superuser)."""
        database = self.settings.get("POSTGRES_DB", "babyshop")
        user = user or self.settings.get("POSTGRES_USER", "babyshop")
        return self.exec("db", "psql", "-U", user, "-d", database, "-tAc", sql).stdout.strip()

    def place_upload(self, path, content):
        """Put a file into the media volume as an upload of any app is stored
        (MEDIA_ROOT/path, written by web's own user); its URL."""
        write = 'mkdir -p "$(dirname "$1")" && cat >"$1"'
        command, options = self.compose_command(
            ["exec", "-T", "web", "sh", "-c", write, "sh", f"/app/media/{path}"]
        )
        subprocess.run(command, input=content, capture_output=True, check=True, timeout=60, **options)
        return f"/media/{path}"

    def create_admin(self):
        created = self.exec(
            "web", "sh", "-c",
            f"DJANGO_SUPERUSER_PASSWORD='{ADMIN_PASSWORD}' python manage.py createsuperuser --noinput"
            " --username boss --email boss@example.com", check=False,
        )  # fmt: skip
        assert created.returncode == 0 or "already taken" in created.stderr, created.stderr


class MailCatcher:
    """A real SMTP server (MailDev) on a stack's egress network as
    "mailcatcher", where its worker sends mail; what it caught is read over
    its REST API on a free 127.0.0.1 port."""

    def __init__(self, stack):
        self.name = f"{stack.project}-mailcatcher"
        self.port = free_port()
        run(
            "docker", "run", "--detach", "--name", self.name, "--network", f"{stack.project}_egress",
            "--network-alias", "mailcatcher", "--publish", f"127.0.0.1:{self.port}:1080",
            "maildev/maildev:2.2.1",
        )  # fmt: skip
        self.http = client()
        wait_until(self._answers, "the mail catcher to answer", timeout=60)

    def _answers(self):
        try:
            return self.http.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).ok
        except requests.RequestException:
            return False

    def messages(self, to=None):
        """The messages caught (for one address), oldest first."""
        caught = self.http.get(f"http://127.0.0.1:{self.port}/email", timeout=30).json()
        return [
            message for message in caught if to in [None, *(address["address"] for address in message["to"])]
        ]

    def counts(self):
        """How many messages each address got."""
        return collections.Counter(
            address["address"] for message in self.messages() for address in message["to"]
        )

    def wait_for(self, to, timeout=60):
        """The first message caught for to, once there is one."""
        wait_until(lambda: self.messages(to), f"a mail to {to}", timeout=timeout)
        return self.messages(to)[0]

    def docker(self, command):
        run("docker", command, self.name)
        if command in ("start", "unpause"):
            wait_until(self._answers, "the mail catcher to answer", timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        run("docker", "rm", "--force", "--volumes", self.name, check=False)


class ObjectStore:
    """A real S3-compatible store (SeaweedFS) holding the bucket of BUCKET,
    as "objects" on a stack's egress network (created here, before the
    stack starts: web checks the bucket at start). Nothing is published."""

    def __init__(self, stack):
        self.name = f"{stack.project}-objects"
        stack.compose("create", "--no-build")
        run(
            "docker", "run", "--detach", "--name", self.name, "--network", f"{stack.project}_egress",
            "--network-alias", "objects", "--env", f"S3_BUCKET={BUCKET['S3_BUCKET']}",
            "--env", f"AWS_ACCESS_KEY_ID={BUCKET['S3_ACCESS_KEY_ID']}",
            "--env", f"AWS_SECRET_ACCESS_KEY={BUCKET_SECRET}",
            "chrislusf/seaweedfs:4.48", "mini", "-dir=/data", "-master.telemetry=false",
        )  # fmt: skip
        wait_until(lambda: BUCKET["S3_BUCKET"] in self.shell("s3.bucket.list"), "the bucket", timeout=60)

    def shell(self, command):
        """What SeaweedFS's own shell prints for command (its own view, not S3's)."""
        command = ["docker", "exec", self.name, "sh", "-c", f"echo '{command}' | weed shell"]
        return run(*command, check=False).stdout

    def read(self, key):
        """The bytes of the object key in the bucket."""
        path = f"/buckets/{BUCKET['S3_BUCKET']}/{key}"
        command = ["docker", "exec", self.name, "sh", "-c", f"echo 'fs.cat {path}' | weed shell"]
        return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout

    def __exit__(self, *exception):
        run("docker", "rm", "--force", "--volumes", self.name, check=False)


@contextlib.contextmanager
def lock_held(path):
    """The flock(2) lock on path, held meanwhile as a running script holds
    its own (flock(1) takes the same kind of lock)."""
    with path.open("a") as file:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def inspect(container, template):
    return run("docker", "inspect", "--format", template, container).stdout.strip()


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    """After the run (its first fixture, so its last teardown): no container,
    volume or network of this run's is left. A leak fails the run, naming
    what leaked, and is removed: leaked networks add up until the engine has
    no address pool left for the next stack."""
    yield
    prefix = f"babyshop-e2e-{RUN_ID}"
    kinds = {
        "container": ["ps", "--all", "--format", "{{.Names}}"],
        "volume": ["volume", "ls", "--format", "{{.Name}}"],
        "network": ["network", "ls", "--format", "{{.Name}}"],
    }
    left = {kind: run("docker", *ls, f"--filter=name={prefix}").stdout.split() for kind, ls in kinds.items()}
    for kind in kinds:  # (containers first: they hold the volumes and networks)
        if left[kind]:
            remove = ["rm", "--force", "--volumes"] if kind == "container" else [kind, "rm", "--force"]
            run("docker", *remove, *left[kind], check=False)
    assert not any(left.values()), f"the run left these behind: {left}"


@pytest.fixture(scope="session")
def image():
    """The production image, built once per run from the working tree."""
    reference = f"{IMAGE}:{TAG}"
    run("docker", "build", "--target", "production", "--tag", reference, str(ROOT), timeout=1800)
    yield reference
    run("docker", "image", "rm", "--force", reference, check=False)


@pytest.fixture(scope="session")
def stack(image, tmp_path_factory):
    """The production stack with the shared cache, shared by the tests that
    change nothing another relies on."""
    with Stack(tmp_path_factory.mktemp("stack"), "main", **SHARED) as deployed:
        deployed.up()
        deployed.trust_proxy_ca()
        yield deployed


@pytest.fixture(scope="session")
def catcher(stack):
    """The shared stack's SMTP server (MailDev), where its worker sends mail."""
    with MailCatcher(stack) as caught:
        yield caught


@pytest.fixture(scope="session")
def bucket_stack(image, tmp_path_factory):
    """A production stack with MEDIA_STORAGE=s3 on an ObjectStore (stack.objects)."""
    with Stack(tmp_path_factory.mktemp("bucket"), "bucket", **BUCKET_STACK) as deployed:
        deployed.objects = ObjectStore(deployed)
        try:
            deployed.up()
            deployed.trust_proxy_ca()
            yield deployed
        finally:
            deployed.objects.__exit__()


FIGURES = []


@pytest.fixture(scope="session")
def figures():
    """Measurements the run reports at its end (never asserted on)."""
    return FIGURES


def pytest_terminal_summary(terminalreporter):
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def make(*args, cwd=ROOT, env=None, check=True, timeout=900):
    """Run a make target the way a user would."""
    return run("make", "--no-print-directory", *args, cwd=cwd, env={**os.environ, **(env or {})},
               check=check, timeout=timeout)  # fmt: skip


def last_line(result):
    """A script's own last word on stderr: make (or a sub-make, make[1]) adds
    its "*** ... Error 2" line after it."""
    return [line for line in result.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)][-1]
