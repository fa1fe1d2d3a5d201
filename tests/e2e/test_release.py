"""Build once, run the same image everywhere: push, deploy over SSH, roll back.

A registry:2 on 127.0.0.1 stands in for the registry, and an OpenSSH server on
a loopback port (key authentication, a deploy path outside the repository)
stands in for the VM: it reaches this machine's Docker engine, as a VM's
deploy user reaches its own.
"""

import getpass
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import RUN_ID, client, free_port, inspect, make, run, wait_for_https

REVISION = "org.opencontainers.image.revision"


def wait_until(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def answers(url):
    try:
        return client().get(url, timeout=2).status_code == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def registry():
    port = free_port()
    name = f"babyshop-e2e-{RUN_ID}-registry"
    run("docker", "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:5000", "registry:2")
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/v2/"), "the registry")
        yield f"127.0.0.1:{port}"
    finally:
        run("docker", "rm", "--force", "--volumes", name, check=False)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A clean clone of this repository: `make push` builds what is committed."""
    path = tmp_path_factory.mktemp("checkout") / "babyshop"
    run("git", "clone", "--quiet", str(Path(__file__).resolve().parents[2]), str(path))
    run("git", "-C", str(path), "config", "user.email", "e2e@example.com")
    run("git", "-C", str(path), "config", "user.name", "e2e")
    return path


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    """sshd on 127.0.0.1:<free port>, accepting one generated key."""
    if not Path("/usr/sbin/sshd").exists():
        pytest.fail("the stand-in VM needs Debian's openssh-server (.ci/run installs it)")
    home = tmp_path_factory.mktemp("vm")
    port = free_port()
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "host_key"))
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(home / "deploy_key"))
    (home / "authorized_keys").write_text((home / "deploy_key.pub").read_text())
    host_key = (home / "host_key.pub").read_text().split()
    (home / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    (home / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\nPidFile {home / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nAuthenticationMethods publickey\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    with (home / "sshd.log").open("w") as log:
        sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(home / "sshd_config")], stderr=log)
    ssh_options = (
        f"-p {port} -i {home / 'deploy_key'} -o UserKnownHostsFile={home / 'known_hosts'}"
        " -o StrictHostKeyChecking=yes -o LogLevel=ERROR"
    )
    target = f"{getpass.getuser()}@127.0.0.1"
    try:
        probe = ["ssh", *ssh_options.split(), "-o", "BatchMode=yes", target, "true"]
        wait_until(lambda: subprocess.run(probe, capture_output=True, check=False).returncode == 0, "sshd")
        yield {"host": target, "ssh_options": ssh_options, "path": home / "srv" / "babyshop"}
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)


def push(checkout, registry, repository, **extra):
    result = make("push", f"REGISTRY={registry}", f"IMAGE={repository}", cwd=checkout, **extra)
    sha = run("git", "-C", str(checkout), "rev-parse", "HEAD").stdout.strip()
    short = run("git", "-C", str(checkout), "rev-parse", "--short", "HEAD").stdout.strip()
    digest = re.search(rf"^{short}: digest: (sha256:[0-9a-f]{{64}})", result.stdout, re.MULTILINE)
    return sha, short, digest.group(1) if digest else None


def test_push_refuses_a_dirty_working_tree(checkout, registry):
    stray = checkout / "stray.txt"
    stray.write_text("not committed\n")
    try:
        result = make("push", f"REGISTRY={registry}", "IMAGE=refused", cwd=checkout, check=False)
    finally:
        stray.unlink()
    assert result.returncode != 0
    assert "uncommitted changes" in result.stderr
    assert "make push FORCE=yes" in result.stderr


def test_a_pushed_image_comes_back_identical(checkout, registry):
    repository = f"babyshop-e2e-{RUN_ID}"
    sha, short, digest = push(checkout, registry, repository)
    assert digest, "docker push printed the digest"
    reference = f"{registry}/{repository}:{short}"
    run("docker", "image", "rm", reference, f"{registry}/{repository}:latest")
    run("docker", "pull", "--quiet", reference)
    assert f"{registry}/{repository}@{digest}" in inspect(reference, "{{json .RepoDigests}}")
    labels = {
        key: inspect(reference, f'{{{{index .Config.Labels "org.opencontainers.image.{key}"}}}}')
        for key in ("revision", "source", "created", "version")
    }
    assert labels["revision"] == sha
    assert labels["version"] == short or labels["version"].startswith("v")
    assert all(labels.values()), labels
    version = run("docker", "run", "--rm", "--network", "none", "--entrypoint", "python", reference,
                  "-c", "import django; print(django.get_version())").stdout  # fmt: skip
    assert version.startswith("5.2.")


class Deployment:
    def __init__(self, vm, checkout, registry, repository, tmp_path):
        self.vm, self.checkout, self.registry, self.repository = vm, checkout, registry, repository
        self.project = f"babyshop-e2e-{RUN_ID}-vm"
        self.https_port = free_port()
        self.env_file = tmp_path / "vm.env"
        self.env_file.write_text(
            f"COMPOSE_PROJECT_NAME={self.project}\nSITE_DOMAIN=localhost\nSEED_DEMO=true\n"
            f"HTTP_PORT=127.0.0.1:{free_port()}\nHTTPS_PORT=127.0.0.1:{self.https_port}\n"
        )
        self.url = f"https://localhost:{self.https_port}"
        self.http = client(verify=False)

    def deploy(self, target="deploy", **variables):
        return make(
            target, f"DEPLOY_HOST={self.vm['host']}", f"DEPLOY_PATH={self.vm['path']}",
            f"REGISTRY={self.registry}", f"IMAGE={self.repository}", f"ENV_FILE={self.env_file}",
            *(f"{k}={v}" for k, v in variables.items()),
            cwd=self.checkout, env={"SSH_OPTIONS": self.vm["ssh_options"]},
        )  # fmt: skip

    def compose(self, *args, check=True):
        return run(
            "docker", "compose", "-f", str(self.vm["path"] / "docker-compose.prod.yml"),
            "--env-file", str(self.vm["path"] / ".env"), *args, check=check,
        )  # fmt: skip

    def running_revision(self):
        (container,) = self.compose("ps", "--quiet", "web").stdout.split()
        return inspect(container, f'{{{{index .Config.Labels "{REVISION}"}}}}')

    def trust_proxy_ca(self):
        wait_for_https(self.url, lambda: self.compose("logs", "proxy", check=False).stdout)
        root = self.vm["path"].parent / "caddy-root.crt"
        self.compose("cp", "proxy:/data/caddy/pki/authorities/local/root.crt", str(root))
        self.http = client(verify=str(root))

    def down(self):
        if (self.vm["path"] / ".env").exists():
            self.compose("down", "--volumes", "--remove-orphans", check=False)


@pytest.fixture
def deployment(vm, checkout, registry, tmp_path):
    deployed = Deployment(vm, checkout, registry, f"babyshop-e2e-{RUN_ID}-app", tmp_path)
    try:
        yield deployed
    finally:
        deployed.down()
        shutil.rmtree(vm["path"], ignore_errors=True)


def test_deploy_redeploy_and_roll_back_over_ssh(deployment, checkout, registry, figures):
    first, first_tag, _ = push(checkout, registry, deployment.repository)
    base = checkout / "babyshop_app" / "templates" / "base.html"
    base.write_text(base.read_text().replace("a Django + Docker blueprint", "release two"))
    run("git", "-C", str(checkout), "commit", "--quiet", "--all", "--message", "release two")
    second, second_tag, _ = push(checkout, registry, deployment.repository)

    deployment.deploy(TAG=first_tag)
    bundle = sorted(p.relative_to(deployment.vm["path"]).as_posix() for p in deployment.vm["path"].rglob("*"))
    assert "Dockerfile" not in bundle
    assert "babyshop_app" not in bundle, "the VM gets no source code"
    assert deployment.running_revision() == first
    deployment.trust_proxy_ca()
    home = deployment.http.get(deployment.url + "/", timeout=10)
    assert home.status_code == 200
    assert "Baby Monitor" in home.text
    assert "release two" not in home.text

    # Redeploy while a client keeps asking for the home page.
    outcomes, latencies, stop = [], [], threading.Event()

    def visitor():
        session = client(verify=deployment.http.verify)
        while not stop.is_set():
            sent = time.monotonic()
            try:
                outcomes.append(session.get(deployment.url + "/", timeout=30).status_code)
            except OSError as error:
                outcomes.append(type(error).__name__)
            latencies.append(time.monotonic() - sent)
            time.sleep(0.05)

    thread = threading.Thread(target=visitor)
    thread.start()
    started = time.monotonic()
    try:
        deployment.deploy(TAG=second_tag)
    finally:
        stop.set()
        thread.join(timeout=30)
    failures = [outcome for outcome in outcomes if outcome != 200]
    figures.append(
        f"redeploy {first_tag} -> {second_tag}: {time.monotonic() - started:.1f}s, {len(outcomes)} requests, "
        f"{len(failures)} failed ({', '.join(sorted({str(f) for f in failures})) or 'none'}), "
        f"slowest answer {max(latencies):.1f}s"
    )
    assert deployment.running_revision() == second
    assert "release two" in deployment.http.get(deployment.url + "/", timeout=10).text

    rollback = deployment.deploy("rollback", TAG=first_tag)
    assert f":{first_tag}" in rollback.stdout
    assert deployment.running_revision() == first
    home = deployment.http.get(deployment.url + "/", timeout=10)
    assert "release two" not in home.text
    assert "Baby Monitor" in home.text, "the data survived both redeploys"


def test_rollback_needs_a_tag():
    result = make("rollback", "DEPLOY_HOST=nobody@127.0.0.1", check=False)
    assert result.returncode != 0
    assert "rollback: name the image to go back to" in result.stderr
