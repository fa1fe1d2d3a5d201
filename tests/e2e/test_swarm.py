"""The production stack on a Docker Swarm of three machines (make swarm-deploy).

The machines are simulated by ../shared/docker-sandbox/swarm.sh: three
docker:dind nodes (node1 the manager) and a registry beside them that every
node pulls from. Uploads go to a bucket (MEDIA_STORAGE=s3), so no node
mounts a shared directory: tests/e2e/swarm-objects.yml runs the store
(SeaweedFS) as a service. Its kernel has no IPVS, so
tests/e2e/swarm-sandbox.yml gives the services DNS round robin instead of
virtual IPs; everything else is the files a user deploys. node1 is the edge
(the proxy, ports 80/443 on its address), node2 keeps the database. The
shop is reached as https://localhost:<port> through a forwarder on this
machine to node1's port 443, so that the name, the certificate and the
cookies are what a browser would see.

Images: the run's production image (one), a second release made from it
(two), a release that cannot start (broken: a setting it refuses) and one
that starts but never passes its health check (unhealthy).
"""

import contextlib
import hashlib
import os
import re
import shutil
import socket
import statistics
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import (
    ADMIN_PASSWORD,
    BUCKET,
    BUCKET_SECRET,
    ROOT,
    RUN_ID,
    Shop,
    client,
    csrf_token,
    free_port,
    last_line,
    make,
    png,
    run,
    wait_for_https,
    wait_until,
)

SWARM_SH = Path(os.environ.get("SWARM_SH", ROOT.parent / "shared" / "docker-sandbox" / "swarm.sh"))
STACK = "babyshop"
FILES = " ".join(
    [
        "docker-compose.prod.yml",
        "docker-compose.cache.yml",
        "docker-compose.s3.yml",
        "docker-compose.swarm.yml",
        "tests/e2e/swarm-sandbox.yml",
        "tests/e2e/swarm-objects.yml",
    ]
)
BASE_IMAGES = ("postgres:17", "caddy:2", "valkey/valkey:8", "chrislusf/seaweedfs:4.48")


class Forward:
    """127.0.0.1:<free port> on this machine, relayed to one node's port."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                near, _ = self.server.accept()
            except OSError:
                return  # closed
            try:
                far = socket.create_connection(self.target, timeout=5)
            except OSError:
                near.close()
                continue
            far.settimeout(None)
            for source, sink in ((near, far), (far, near)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self):
        self.server.close()


class Swarm(Shop):
    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.name = f"babyshop-e2e-{RUN_ID}-swarm"
        self.shared = tmp_path / "shared"
        self.registry_port = free_port()
        self.sandbox_env = {
            **os.environ, "SWARM_NAME": self.name, "SWARM_SHARED": str(self.shared),
            "SWARM_REGISTRY_PORT": str(self.registry_port),
        }  # fmt: skip
        self.nodes = {}  # hostname -> address
        self.env_file = tmp_path / "swarm.env"
        self.secrets_dir = tmp_path / "secrets"
        self.forward = None
        self.upload = None  # the picture's URL, uploaded once, read again after the updates

    def sandbox(self, *args, timeout=600):
        return run("bash", str(SWARM_SH), *args, env=self.sandbox_env, timeout=timeout)

    def up(self):
        exports = self.sandbox("up", "3").stdout
        self.manager = re.search(r"DOCKER_HOST=(\S+)", exports).group(1)
        self.pull_registry = re.search(r"SWARM_REGISTRY=(\S+)", exports).group(1)
        self.push_registry = re.search(r"PUSH_REGISTRY=(\S+)", exports).group(1)
        for container, address in re.findall(rf"({re.escape(self.name)}-\d+)=(\S+)", exports):
            self.nodes[f"node{container.rsplit('-', 1)[1]}"] = address
        self.sandbox("load", *BASE_IMAGES)
        self.docker("node", "update", "--label-add", "babyshop.edge=true", "node1")
        self.docker("node", "update", "--label-add", "babyshop.db=true", "node2")
        settings = {"SITE_DOMAIN": "localhost", "COMPOSE_PROFILES": "cache", "WEB_REPLICAS": "3",
                    "SECRETS_DIR": self.secrets_dir, **BUCKET}  # fmt: skip
        self.env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
        run(
            str(ROOT / "scripts" / "make-secrets.sh"),
            env={**os.environ, "ENV_FILE": str(self.env_file), "S3_SECRET_ACCESS_KEY": BUCKET_SECRET},
        )
        self.forward = Forward(self.nodes["node1"], 443)
        self.url = f"https://localhost:{self.forward.port}"
        self.http = client(verify=False)

    def down(self):
        if self.forward:
            self.forward.close()
        if SWARM_SH.exists():
            run("bash", str(SWARM_SH), "down", env=self.sandbox_env, check=False)
        images = run("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        ours = [image for image in images if image.startswith(f"127.0.0.1:{self.registry_port}/")]
        if ours:
            run("docker", "image", "rm", "--force", *ours, check=False)
        shutil.rmtree(self.shared, ignore_errors=True)

    def docker(self, *args, node=None, check=True):
        """docker on the manager, or on one node's own engine."""
        host = f"tcp://{self.nodes[node]}:2375" if node else self.manager
        return run("docker", "--host", host, *args, check=check)

    def push(self, image, tag):
        """Push a local image as babyshop-e2e:TAG; the nodes pull it from the registry."""
        pushed = f"{self.push_registry}/babyshop-e2e:{tag}"
        run("docker", "tag", image, pushed)
        run("docker", "push", "--quiet", pushed, timeout=900)

    def deploy(self, tag, target="swarm-deploy", check=True):
        return make(
            target, f"ENV_FILE={self.env_file}", f"REGISTRY={self.pull_registry}", "IMAGE=babyshop-e2e",
            f"TAG={tag}", f"STACK_NAME={STACK}", f"SWARM_FILES={FILES}",
            env={"DOCKER_HOST": self.manager}, check=check, timeout=900,
        )  # fmt: skip

    def tasks(self, service="web"):
        """(node, container id, image) of each running task of a service."""
        listed = self.docker(
            "service", "ps", f"{STACK}_{service}", "--filter", "desired-state=running",
            "--format", "{{.Node}} {{.Name}}.{{.ID}} {{.Image}} {{.CurrentState}}", "--no-trunc",
        ).stdout.split("\n")  # fmt: skip
        found = []
        for line in filter(None, listed):
            node, task, image, state = line.split(" ", 3)
            if state.startswith("Running"):
                container = self.docker("ps", "--quiet", "--filter", f"name={task}", node=node).stdout.strip()
                found.append((node, container, image))
        return found

    def web_image(self):
        spec = "{{.Spec.TaskTemplate.ContainerSpec.Image}}"
        return self.docker("service", "inspect", "--format", spec, f"{STACK}_web").stdout.strip()

    def create_admin(self):
        (node, container, _), *_ = self.tasks("web")
        self.docker(
            "exec", "--env", f"DJANGO_SUPERUSER_PASSWORD={ADMIN_PASSWORD}", container, "python", "manage.py",
            "createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com", node=node,
        )  # fmt: skip


@pytest.fixture(scope="module")
def swarm(image, tmp_path_factory):
    """A 3-node swarm with the release images pushed beside it; removed, with
    every node, volume and image, even when a test fails."""
    if not SWARM_SH.exists():
        if "SWARM_SH" in os.environ:  # asked for (.ci/run): a missing script is a failure
            pytest.fail(f"SWARM_SH={SWARM_SH} does not exist")
        pytest.skip(f"no simulated swarm here: {SWARM_SH} (the docker sandbox beside the project) is missing")
    built = tmp_path_factory.mktemp("releases")
    (built / "two.Dockerfile").write_text(
        f"FROM {image}\nUSER root\n"
        "RUN sed -i 's/a Django + Docker blueprint/release two/' /app/templates/base.html\nUSER 10001:10001\n"
    )
    # A release that cannot start: a setting it refuses stops its entrypoint.
    (built / "broken.Dockerfile").write_text(f"FROM {image}\nENV DEBUG=maybe\n")
    # One that serves pages but fails its health check (quickly, for the test).
    (built / "unhealthy.Dockerfile").write_text(
        f"FROM {image}\nHEALTHCHECK --interval=1s --timeout=2s --start-period=1s --retries=2"
        ' CMD ["python", "-c", "raise SystemExit(\'no health here\')"]\n'
    )
    cluster = Swarm(tmp_path_factory.mktemp("swarm"))
    try:
        cluster.up()
        cluster.push(image, "one")
        for tag in ("two", "broken", "unhealthy"):
            dockerfile = built / f"{tag}.Dockerfile"
            run(
                "docker", "build", "--quiet", "--tag", f"{image}-{tag}", "--file", str(dockerfile), str(built)
            )
            cluster.push(f"{image}-{tag}", tag)
        yield cluster
    finally:
        cluster.down()
        releases = [f"{image}-{tag}" for tag in ("two", "broken", "unhealthy")]
        run("docker", "image", "rm", "--force", *releases, check=False)


@pytest.fixture(scope="module")
def deployed(swarm, figures):
    started = time.monotonic()
    swarm.deploy("one")
    figures.append(
        f"swarm: stack with 3 web replicas deployed and converged in {time.monotonic() - started:.1f}s"
    )
    wait_for_https(swarm.url, lambda: swarm.docker("service", "logs", f"{STACK}_proxy", check=False).stdout)
    return swarm


# An answer slower than this means web paused: a stopped task still sent
# requests (Caddy waits up to lb_try_duration, 15 s) or none was serving
# while a new one started (several seconds). A busy machine alone delayed
# answers by up to 3.2 s here, so one second was a test of the machine.
PAUSE = 5


class Load:
    """Clients asking for the home page through the proxy until stopped."""

    def __init__(self, swarm, clients=3):
        self.outcomes, self.latencies, self.stop = [], [], threading.Event()
        self.threads = [threading.Thread(target=self._visit, args=(swarm,)) for _ in range(clients)]
        for thread in self.threads:
            thread.start()

    def _visit(self, swarm):
        session = client(verify=False)
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                self.outcomes.append(session.get(swarm.url + "/", timeout=30).status_code)
            except OSError as error:
                self.outcomes.append(type(error).__name__)
            self.latencies.append(time.monotonic() - sent)
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        failures = [outcome for outcome in self.outcomes if outcome != 200]
        summary = (
            f"{len(self.outcomes)} requests, {len(failures)} failed"
            f" ({', '.join(sorted({str(f) for f in failures})) or 'none'}),"
            f" p50 {statistics.median(self.latencies) * 1000:.0f} ms, max {max(self.latencies) * 1000:.0f} ms"
        )
        return failures, max(self.latencies), summary


def test_the_production_file_is_a_valid_stack_file(tmp_path):
    """docker-compose.prod.yml with docker-compose.swarm.yml over it, with and
    without the cache's file, is what docker stack deploy accepts
    (checked offline, so also where no swarm can be simulated), with the
    swarm's rolling update, placement and ports."""
    env_file = tmp_path / "stack.env"
    env_file.write_text("SITE_DOMAIN=shop.example.com\n")
    variables = {
        "ENV_FILE": str(env_file), "IMAGE": "registry.example.com/babyshop", "TAG": "1a2b3c4",
        "MEDIA_VOLUME_OPTIONS": "addr=10.0.0.5,rw", "MEDIA_VOLUME_DEVICE": ":/srv/media",
    }  # fmt: skip
    with_cache = run(
        "docker", "stack", "config", "-c", "docker-compose.prod.yml", "-c", "docker-compose.cache.yml",
        "-c", "docker-compose.swarm.yml", cwd=ROOT, env={**os.environ, **variables},
    ).stdout  # fmt: skip
    assert yaml.safe_load(with_cache)["services"]["cache"]["image"] == "valkey/valkey:8"
    rendered = run(
        "docker", "stack", "config", "-c", "docker-compose.prod.yml", "-c", "docker-compose.swarm.yml",
        cwd=ROOT, env={**os.environ, **variables},
    ).stdout  # fmt: skip
    stack = yaml.safe_load(rendered)  # PyYAML: pre-commit's, among the host tools
    assert "cache" not in stack["services"]
    web, db, proxy = (stack["services"][name] for name in ("web", "db", "proxy"))
    assert web["image"] == "registry.example.com/babyshop:1a2b3c4"
    assert web["deploy"]["update_config"]["order"] == "start-first"
    assert web["deploy"]["update_config"]["failure_action"] == "rollback"
    assert web["deploy"]["resources"]["limits"]["pids"] == 256
    assert db["deploy"]["placement"]["constraints"] == ["node.labels.babyshop.db == true"]
    assert proxy["deploy"]["placement"]["constraints"] == ["node.labels.babyshop.edge == true"]
    assert {(port["published"], port["mode"]) for port in proxy["ports"]} == {(80, "host"), (443, "host")}
    assert stack["volumes"]["media"]["driver_opts"] == {
        "type": "nfs",
        "o": "addr=10.0.0.5,rw",
        "device": ":/srv/media",
    }
    assert stack["secrets"]["secret_key"]["file"].endswith("/secrets/secret_key")

    # MEDIA_STORAGE=s3: web mounts a tmpfs where the shared volume was (merged by target).
    with_bucket = run(
        "docker", "stack", "config", "-c", "docker-compose.prod.yml", "-c", "docker-compose.s3.yml",
        "-c", "docker-compose.swarm.yml", cwd=ROOT, env={**os.environ, **variables},
    ).stdout  # fmt: skip
    web = yaml.safe_load(with_bucket)["services"]["web"]
    (media,) = [volume for volume in web["volumes"] if volume["target"] == "/app/media"]
    assert media["type"] == "tmpfs"
    assert "s3_secret_key" in {secret["source"] for secret in web["secrets"]}


def test_web_runs_on_several_nodes_beside_a_pinned_database(deployed):
    """Three web tasks spread over the nodes; db on the labelled node, the
    proxy on the edge node; the secrets are Swarm secrets, in no service's
    environment; every service's log is bounded."""
    web_nodes = {node for node, _, _ in deployed.tasks("web")}
    assert len(web_nodes) >= 2, web_nodes
    assert [node for node, _, _ in deployed.tasks("db")] == ["node2"]
    assert [node for node, _, _ in deployed.tasks("proxy")] == ["node1"]
    secrets = deployed.docker("secret", "ls", "--format", "{{.Name}}").stdout.split()
    assert {f"{STACK}_secret_key", f"{STACK}_postgres_password"} <= set(secrets)
    values = [value for path in deployed.secrets_dir.iterdir() if (value := path.read_text().strip())]
    for service in ("web", "worker", "db", "proxy", "cache"):
        spec = deployed.docker("service", "inspect", f"{STACK}_{service}").stdout
        assert not [value for value in values if value in spec], f"a secret is in {service}'s service spec"
        assert '"max-size": "10m"' in spec, f"{service}'s log is not bounded"
        assert '"max-file": "5"' in spec, f"{service}'s log is not bounded"

    home = deployed.get("/")
    assert home.status_code == 200
    assert "<title>babyshop</title>" in home.text


def test_a_picture_uploaded_on_one_node_is_served_by_every_replica(deployed):
    """A visitor registers through the proxy; a picture stored by one web
    task, on its node, is served by each web task, on its own node, from the
    bucket: no node keeps it on disk."""
    form = deployed.get("/accounts/register/")
    username = f"swarm-{RUN_ID}"
    registered = deployed.post(
        "/accounts/register/",
        data={"csrfmiddlewaretoken": csrf_token(form), "username": username,
              "email": f"{username}@example.com", "password1": ADMIN_PASSWORD, "password2": ADMIN_PASSWORD},
    )  # fmt: skip
    assert registered.status_code == 200
    assert username in registered.text, "registered and logged in"

    picture = png(7, 5, (30, 160, 90))
    store = (
        "import os; from django.core.files.base import ContentFile;"
        " from django.core.files.storage import default_storage as s;"
        " print(s.save('uploads/swarm.png', ContentFile(bytes.fromhex(os.environ['PICTURE']))))"
    )
    (node, container, _), *_ = deployed.tasks("web")
    stored = deployed.docker(
        "exec", "--env", f"PICTURE={picture.hex()}", container, "python", "manage.py", "shell", "-c", store,
        node=node,
    ).stdout  # fmt: skip
    url = deployed.upload = f"/media/{stored.strip().splitlines()[-1]}"

    fetch = (
        "import hashlib, sys, urllib.request;"
        " request = urllib.request.Request('http://127.0.0.1:8000' + sys.argv[1],"
        " headers={'Host': 'localhost', 'X-Forwarded-Proto': 'https'});"
        " print(hashlib.sha256(urllib.request.urlopen(request, timeout=10).read()).hexdigest())"
    )
    tasks = deployed.tasks("web")
    assert len({node for node, _, _ in tasks}) >= 2
    for node, container, _ in tasks:
        served = deployed.docker("exec", container, "python", "-c", fetch, url, node=node).stdout.strip()
        assert served == hashlib.sha256(picture).hexdigest(), (
            f"the web task on {node} does not serve the upload"
        )
        on_disk = deployed.docker("exec", container, "ls", "-A", "/app/media", node=node).stdout
        assert on_disk == "", f"the web task on {node} keeps files on disk"


def test_a_rolling_update_under_load_fails_no_request(deployed, figures):
    """Release two replaces release one task by task while clients keep
    asking: no request fails or waits as long as a pause, and every task ends on
    release two."""
    load = Load(deployed)
    started = time.monotonic()
    try:
        deployed.deploy("two")
    finally:
        failures, slowest, summary = load.finish()
    figures.append(
        f"swarm: rolling update one -> two under load: {time.monotonic() - started:.1f}s, {summary}"
    )
    assert failures == []
    assert slowest < PAUSE, f"an answer waited {slowest:.1f}s: web paused during the update"
    assert deployed.web_image().startswith(f"{deployed.pull_registry}/babyshop-e2e:two")
    assert {image.split("@")[0] for _, _, image in deployed.tasks("web")} == {
        f"{deployed.pull_registry}/babyshop-e2e:two"
    }
    assert "release two" in deployed.get("/").text


@pytest.mark.parametrize("release", ["broken", "unhealthy"])
def test_a_failing_release_is_rolled_back_by_swarm(deployed, figures, release):
    """The failing release's first task exits at start (broken) or never
    passes its health check (unhealthy): either way no old task is stopped,
    Swarm rolls web back to release two by itself, make swarm-deploy says so
    and fails, and the shop answers throughout."""
    load = Load(deployed, clients=1)
    started = time.monotonic()
    try:
        result = deployed.deploy(release, check=False)
    finally:
        failures, slowest, summary = load.finish()
    figures.append(
        f"swarm: {release} release rolled back by Swarm in {time.monotonic() - started:.1f}s; {summary}"
    )
    assert result.returncode != 0
    state = deployed.docker("service", "inspect", "--format", "{{.UpdateStatus.State}}", f"{STACK}_web")
    # Swarm ends its own rollback at rollback_completed, but when a task of
    # the failed release is still to be replaced it then runs one more plain
    # update to the same (rolled back) spec, which ends at completed.
    assert state.stdout.strip() in ("rollback_completed", "completed"), result.stdout + result.stderr
    line = last_line(result)
    assert line.startswith(
        f"swarm-deploy: the update of web to {deployed.pull_registry}/babyshop-e2e:{release} failed"
    )
    assert "was rolled back to" in line
    assert failures == []
    assert slowest < PAUSE, f"an answer waited {slowest:.1f}s: an old task was stopped"
    assert deployed.web_image().startswith(f"{deployed.pull_registry}/babyshop-e2e:two")
    wait_until(lambda: len(deployed.tasks("web")) == 3, "three web tasks of release two")
    assert "release two" in deployed.get("/").text


def test_swarm_rollback_goes_back_to_a_named_release(deployed):
    """make swarm-rollback TAG=one: the earlier release, data intact."""
    refused = make("swarm-rollback", env={"DOCKER_HOST": deployed.manager}, check=False)
    assert refused.returncode != 0
    assert "name the image to go back to" in refused.stderr
    rolled = deployed.deploy("one", target="swarm-rollback")
    assert "runs " in rolled.stdout
    assert deployed.web_image().startswith(f"{deployed.pull_registry}/babyshop-e2e:one")
    home = deployed.get("/")
    assert "release two" not in home.text
    assert deployed.get(deployed.upload).status_code == 200, "the upload survived both updates"
