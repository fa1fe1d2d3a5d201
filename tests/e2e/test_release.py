"""Build once, run the same image everywhere: push, deploy over SSH, roll back.

A registry:2 on 127.0.0.1 stands in for the registry, and an OpenSSH server on
a loopback port (key authentication, a deploy path outside the repository)
stands in for the VM: it reaches this machine's Docker engine, as a VM's
deploy user reaches its own.
"""

import getpass
import pwd
import re
import shlex
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (
    RUN_ID,
    client,
    committed_clone,
    free_port,
    inspect,
    last_line,
    lock_held,
    make,
    run,
    wait_for_https,
    wait_until,
)

REVISION = "org.opencontainers.image.revision"


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
        # What was pushed or pulled under this registry's name, here and on the stand-in VM.
        images = run("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        ours = [image for image in images if image.startswith(f"127.0.0.1:{port}/")]
        if ours:
            run("docker", "image", "rm", "--force", *ours, check=False)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A clone of this repository with the working tree committed on top:
    `make push` builds what is committed, and the deploy runs the scripts
    under test."""
    return committed_clone(tmp_path_factory.mktemp("checkout") / "babyshop")


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
        # A space and a quote: the deploy path reaches the VM's shell and the systemd units.
        yield {"host": target, "ssh_options": ssh_options, "path": home / "srv" / "baby shop's"}
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
    """Pulled back, the image has the digest push printed and labels that name
    its commit and where its source is, never the token in origin's URL."""
    repository = f"babyshop-e2e-{RUN_ID}"
    origin = run("git", "-C", str(checkout), "remote", "get-url", "origin").stdout.strip()
    token_url = "https://x-access-token:ghp_not-a-real-token@example.com/acme/shop.git"
    run("git", "-C", str(checkout), "remote", "set-url", "origin", token_url)
    try:
        sha, short, digest = push(checkout, registry, repository)
    finally:
        run("git", "-C", str(checkout), "remote", "set-url", "origin", origin)
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
    assert labels["source"] == "https://example.com/acme/shop.git"
    assert labels["version"] == short or labels["version"].startswith("v")
    assert all(labels.values()), labels
    version = run("docker", "run", "--rm", "--network", "none", "--entrypoint", "python", reference,
                  "-c", "import django; print(django.get_version())").stdout  # fmt: skip
    assert version.startswith("6.1.")


class Deployment:
    def __init__(self, vm, checkout, registry, repository, tmp_path):
        self.vm, self.checkout, self.registry, self.repository = vm, checkout, registry, repository
        self.project = f"babyshop-e2e-{RUN_ID}-vm"
        self.https_port = free_port()
        self.env_file = tmp_path / "vm.env"
        self.env_file.write_text(
            f"COMPOSE_PROJECT_NAME={self.project}\nSITE_DOMAIN=localhost\n"
            f"HTTP_PORT=127.0.0.1:{free_port()}\nHTTPS_PORT=127.0.0.1:{self.https_port}\n"
        )
        self.url = f"https://localhost:{self.https_port}"
        self.http = client(verify=False)

    def deploy(self, target="deploy", check=True, env_file=None, **variables):
        return make(
            target, f"DEPLOY_HOST={self.vm['host']}", f"DEPLOY_PATH={self.vm['path']}",
            f"REGISTRY={self.registry}", f"IMAGE={self.repository}", f"ENV_FILE={env_file or self.env_file}",
            *(f"{k}={v}" for k, v in variables.items()),
            cwd=self.checkout, env={"SSH_OPTIONS": self.vm["ssh_options"]}, check=check,
        )  # fmt: skip

    def compose(self, *args, check=True):
        return run(
            "docker", "compose", "-f", str(self.vm["path"] / "docker-compose.prod.yml"),
            "--env-file", str(self.vm["path"] / ".env"), *args, check=check,
        )  # fmt: skip

    def running_revision(self):
        """The revision every running web and worker container was built from."""
        (revision,) = {
            inspect(container, f'{{{{index .Config.Labels "{REVISION}"}}}}')
            for container in self.compose("ps", "--quiet", "web", "worker").stdout.split()
        }
        return revision

    def trust_proxy_ca(self):
        wait_for_https(self.url, lambda: self.compose("logs", "proxy", check=False).stdout)
        root = self.vm["path"].parent / "caddy-root.crt"
        self.compose("cp", "proxy:/data/caddy/pki/authorities/local/root.crt", str(root))
        self.http = client(verify=str(root))

    def down(self):
        if (self.vm["path"] / ".env").exists():
            self.compose("down", "--volumes", "--remove-orphans", check=False)

    def files(self):
        """Every file of the deploy path, with its content (secrets and backups aside)."""
        path = self.vm["path"]
        return {
            p.relative_to(path).as_posix(): p.read_bytes()
            for p in path.rglob("*")
            if p.is_file() and p.relative_to(path).parts[0] not in {"secrets", "backups"}
        }


@pytest.fixture(scope="module")
def deployment(vm, checkout, registry, tmp_path_factory):
    deployed = Deployment(vm, checkout, registry, f"babyshop-e2e-{RUN_ID}-app", tmp_path_factory.mktemp("vm"))
    try:
        yield deployed
    finally:
        deployed.down()
        shutil.rmtree(vm["path"], ignore_errors=True)


@pytest.fixture(scope="module")
def releases(deployment, checkout, registry):
    """Two releases pushed; the first one deployed to the VM."""
    first, first_tag, _ = push(checkout, registry, deployment.repository)
    base = checkout / "babyshop_app" / "templates" / "base.html"
    base.write_text(base.read_text().replace("a Django + Docker blueprint", "release two"))
    run("git", "-C", str(checkout), "commit", "--quiet", "--all", "--message", "release two")
    second, second_tag, _ = push(checkout, registry, deployment.repository)
    deployment.deploy(TAG=first_tag)
    deployment.trust_proxy_ca()
    return {"first": (first, first_tag), "second": (second, second_tag)}


def test_deploy_redeploy_and_roll_back_over_ssh(deployment, releases, figures):
    """The deployed shop serves over HTTPS; a new tag replaces its web
    containers while requests keep coming, with no pause: no request fails
    and none waits a second (the old containers serve until the new ones are
    healthy); rollback brings the first back, data intact."""
    (first, first_tag), (second, second_tag) = releases["first"], releases["second"]
    bundle = sorted(p.relative_to(deployment.vm["path"]).as_posix() for p in deployment.vm["path"].rglob("*"))
    assert "Dockerfile" not in bundle
    assert "babyshop_app" not in bundle, "the VM gets no source code"
    assert deployment.running_revision() == first
    home = deployment.http.get(deployment.url + "/", timeout=10)
    assert home.status_code == 200
    assert "release two" not in home.text
    shell = ["exec", "-T", "web", "python", "manage.py", "shell", "-c"]
    users = "from django.contrib.auth import get_user_model as m; users = m().objects;"
    deployment.compose(*shell, users + "users.create_user('kept')")
    kept = users + "print(users.filter(username='kept').count())"

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
        f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    assert failures == []
    assert max(latencies) < 1, "an answer waited a second or more: web paused during the redeploy"
    assert deployment.running_revision() == second
    assert "release two" in deployment.http.get(deployment.url + "/", timeout=10).text

    rollback = deployment.deploy("rollback", TAG=first_tag)
    assert f":{first_tag}" in rollback.stdout
    assert deployment.running_revision() == first
    home = deployment.http.get(deployment.url + "/", timeout=10)
    assert "release two" not in home.text
    found = deployment.compose(*shell, kept).stdout.strip().splitlines()[-1]
    assert found == "1", "the data survived both redeploys"


def assert_unchanged(deployment, files, revision):
    """The VM's files and running version as they were, and the site serving."""
    assert deployment.files() == files
    assert deployment.running_revision() == revision
    assert deployment.http.get(deployment.url + "/", timeout=10).status_code == 200


def test_a_deploy_of_a_missing_tag_changes_nothing(deployment, releases):
    """A tag the registry does not have stops the deploy before anything on
    the VM changes: the running version, its .env and every other file stay
    byte-identical, and the shop answers."""
    before, revision = deployment.files(), deployment.running_revision()
    reference = f"{deployment.registry}/{deployment.repository}:no-such-tag"
    missing = deployment.deploy(TAG="no-such-tag", check=False)
    assert missing.returncode != 0
    assert last_line(missing).startswith(f"deploy: the VM cannot pull the image {reference}: ")
    assert last_line(missing).endswith("; nothing was changed")
    assert_unchanged(deployment, before, revision)


def test_a_deploy_while_another_runs_changes_nothing(deployment, releases):
    """Before: two deploys at once shared one upload directory on the VM. Now
    each uploads to its own, and one that finds the VM's deploy lock taken
    (here by a process holding it, as a running deploy does) stops there:
    files, running version and shop as they were."""
    before, revision = deployment.files(), deployment.running_revision()
    with lock_held(deployment.vm["path"] / ".deploy.lock"):
        second = deployment.deploy(TAG=releases["second"][1], check=False)
    assert second.returncode != 0
    assert last_line(second) == (
        f"deploy: another deploy to {deployment.vm['path']} is running: nothing was changed;"
        " wait for it to finish, then deploy again"
    )
    assert_unchanged(deployment, before, revision)


def test_a_deploy_refused_by_the_check_puts_the_files_back(deployment, releases, tmp_path):
    """Settings the new release refuses stop at prod-up's one-off check; the
    previous files are put back, byte-identical, and the previous version
    keeps serving."""
    before, revision = deployment.files(), deployment.running_revision()
    refused = tmp_path / "refused.env"
    refused.write_text(deployment.env_file.read_text() + "DEBUG=maybe\n")
    second_tag = releases["second"][1]
    bad = deployment.deploy(TAG=second_tag, env_file=refused, check=False)
    assert bad.returncode != 0
    assert "DEBUG='maybe'" in bad.stderr
    assert last_line(bad) == (
        f"deploy: {deployment.registry}/{deployment.repository}:{second_tag} did not start"
        " (the error is above): the previous files are back in place and the previous version runs"
    )
    assert_unchanged(deployment, before, revision)


def test_the_backup_timer_runs_the_deployed_backup(deployment, releases):
    """The bundle holds the backup service and timer rendered for the real
    deploy path (with its space and quote) and user; systemd accepts them;
    and the service's ExecStart, run as systemd runs it (in its
    WorkingDirectory, with systemd's bare environment), leaves a verified
    backup of the deployed shop."""
    path = deployment.vm["path"]
    service, timer = path / "systemd" / "babyshop-backup.service", path / "systemd" / "babyshop-backup.timer"
    unit = dict(line.split("=", 1) for line in service.read_text().splitlines() if re.match(r"\w+=", line))
    assert unit["Type"] == "oneshot"
    assert unit["User"] == getpass.getuser()
    assert unit["WorkingDirectory"] == str(path)
    assert unit["ExecStart"] == f'bash "{path}/scripts/backup.sh"'
    assert {"OnCalendar=*-*-* 03:15:00", "Persistent=true"} <= set(timer.read_text().splitlines())
    # systemd-analyze works without systemd running; Debian has it wherever systemd is installed.
    if shutil.which("systemd-analyze"):
        run("systemd-analyze", "verify", str(service), str(timer))

    command = shlex.split(unit["ExecStart"].replace("%%", "%").replace("$$", "$"))
    account = pwd.getpwnam(unit["User"])
    bare = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "HOME": account.pw_dir,
            "USER": account.pw_name, "LOGNAME": account.pw_name, "SHELL": account.pw_shell}  # fmt: skip
    run(*command, cwd=unit["WorkingDirectory"], env=bare)
    (backup,) = (path / "backups").iterdir()
    run("sha256sum", "--check", "--strict", "SHA256SUMS", cwd=backup)
    assert any(line.startswith("users_user ") for line in (backup / "contents.txt").read_text().splitlines())


def test_rollback_needs_a_tag():
    result = make("rollback", "DEPLOY_HOST=nobody@127.0.0.1", check=False)
    assert result.returncode != 0
    assert "rollback: name the image to go back to" in result.stderr
