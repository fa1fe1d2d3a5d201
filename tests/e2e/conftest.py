"""Drive the production stack from the host, as a user of the VM would.

Each stack runs under its own Compose project name, with a generated env file
and free 127.0.0.1 ports, and is always torn down with its volumes, even when
a test or the start-up fails.
"""

import os
import secrets
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PROD_COMPOSE = ROOT / "docker-compose.prod.yml"
RUN_ID = uuid.uuid4().hex[:8]
IMAGE = "babyshop-e2e"
TAG = RUN_ID


def run(*args, check=True, timeout=600, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """One Compose project of docker-compose.prod.yml (plus optional overrides)."""

    def __init__(self, tmp_path, name, overrides=(), **settings):
        self.project = f"babyshop-e2e-{RUN_ID}-{name}"
        self.port = free_port()
        self.env_file = tmp_path / f"{name}.env"
        self.settings = {
            "IMAGE": IMAGE,
            "TAG": TAG,
            "WEB_PORT": str(self.port),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            **settings,
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))
        self.files = [PROD_COMPOSE, *overrides]
        self.url = f"http://127.0.0.1:{self.port}"

    def _command(self, args):
        files = [arg for path in self.files for arg in ("-f", str(path))]
        command = ["docker", "compose", "-p", self.project, *files, "--env-file", str(self.env_file), *args]
        return command, {"cwd": ROOT, "env": {**os.environ, "ENV_FILE": str(self.env_file)}}

    def compose(self, *args, check=True, timeout=600):
        command, options = self._command(args)
        return run(*command, check=check, timeout=timeout, **options)

    def compose_process(self, *args):
        """Start a compose command in the background (output discarded)."""
        command, options = self._command(args)
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options)

    def up(self, *args):
        started = time.monotonic()
        result = self.compose(
            "up", "--detach", "--wait", "--wait-timeout", "240", *args, check=False, timeout=300
        )
        if result.returncode != 0:
            raise AssertionError(f"stack did not become healthy:\n{result.stderr}\n{self.logs()}")
        return time.monotonic() - started

    def down(self):
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)

    def logs(self, service=None):
        args = ["logs", "--no-color", "--no-log-prefix"] + ([service] if service else [])
        return self.compose(*args, check=False).stdout

    def exec(self, service, *command, check=True):
        return self.compose("exec", "-T", service, *command, check=check)

    def containers(self, service):
        return self.compose("ps", "--quiet", service).stdout.split()

    def psql(self, sql):
        user = self.settings.get("POSTGRES_USER", "babyshop")
        return self.exec("db", "psql", "-U", user, "-d", user, "-tAc", sql).stdout.strip()

    def get(self, path, **kwargs):
        return requests.get(self.url + path, timeout=10, **kwargs)


def inspect(container, template):
    return run("docker", "inspect", "--format", template, container).stdout.strip()


@pytest.fixture(scope="session")
def image():
    """The production image, built once per run from the working tree."""
    env = {
        **os.environ,
        "IMAGE": IMAGE,
        "TAG": TAG,
        "POSTGRES_PASSWORD": "unused-at-build",
        "ENV_FILE": "/dev/null",
    }
    run("docker", "compose", "-f", str(PROD_COMPOSE), "build", "web", cwd=ROOT, env=env, timeout=1800)
    reference = f"{IMAGE}:{TAG}"
    yield reference
    run("docker", "image", "rm", "--force", reference, check=False)


@pytest.fixture(scope="session")
def stack(image, tmp_path_factory):
    """The production stack with the demo catalog, shared by the read-only tests."""
    deployed = Stack(tmp_path_factory.mktemp("stack"), "main", SEED_DEMO="true")
    try:
        deployed.startup_seconds = deployed.up()
        yield deployed
    finally:
        deployed.down()
