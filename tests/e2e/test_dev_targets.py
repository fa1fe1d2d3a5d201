"""The dev targets act on the dev stack only, whatever a .env written for
production says: before, `COMPOSE_PROJECT_NAME=babyshop-prod` in .env aimed
make up, down, test and clean at the production project (clean deleting its
database volume)."""

import os
import shutil

import pytest

from conftest import RUN_ID, committed_clone, free_port, inspect, make, remove_dev_stack, run


def compose(project, *args, cwd, check=True):
    """docker compose on the dev file under another project name (no .env)."""
    command = ["docker", "compose", "-p", project, "--env-file", "/dev/null", "-f", "docker-compose.yml"]
    return run(*command, *args, cwd=cwd, check=check)


@pytest.fixture
def checkout(tmp_path):
    """A clone with a production .env naming another project, which exists:
    its database container and volume created (as a VM's production stack
    has them, under the same service and volume names)."""
    path = committed_clone(tmp_path / "shop")
    production = f"babyshop-e2e-{RUN_ID}-production"
    (path / ".env").write_text(
        f"COMPOSE_PROJECT_NAME={production}\nSITE_DOMAIN=shop.example.com\nDEBUG=false\nDEV_PORT=1\n"
    )
    compose(production, "create", "db", cwd=path)
    dev = f"babyshop-e2e-{RUN_ID}-dev"
    try:
        yield path, production, dev
    finally:
        for project in (production, dev):
            remove_dev_stack(project, path)


def project_state(project):
    """The project's containers (id and state) and volumes."""
    label = f"label=com.docker.compose.project={project}"
    ids = run("docker", "ps", "--all", "--quiet", "--filter", label).stdout.split()
    volumes = run("docker", "volume", "ls", "--quiet", "--filter", label)
    return {
        "containers": sorted((id, inspect(id, "{{.State.Status}} {{.State.StartedAt}}")) for id in ids),
        "volumes": volumes.stdout.split(),
    }


def test_make_up_down_test_and_clean_touch_only_the_dev_project(checkout):
    path, production, dev = checkout
    untouched = project_state(production)
    assert untouched["volumes"] == [f"{production}_pgdata"]
    target = [f"DEV_PROJECT={dev}", f"DEV_PORT={free_port()}", f"MAIL_UI_PORT={free_port()}"]

    make("up", *target, cwd=path, timeout=600)
    assert project_state(production) == untouched
    running = compose(dev, "ps", "--services", "--status", "running", cwd=path)
    assert set(running.stdout.split()) == {"db", "web", "worker", "mail"}, "no cache without CACHE_URL"

    make("test", *target, "ARGS=-q babyshop/tests/test_health.py", cwd=path, timeout=600)
    assert project_state(production) == untouched

    # A rebuild after a change leaves no untagged image of the one it replaced.
    (path / "babyshop_app" / "templates" / "home.html").write_text("<p>changed</p>\n")
    make("up", *target, cwd=path, timeout=600)
    dangling = run("docker", "image", "ls", "--quiet", "--filter", "dangling=true",
                   "--filter", f"label=com.docker.compose.project={dev}").stdout.split()  # fmt: skip
    assert dangling == []

    make("down", *target, cwd=path)
    assert project_state(production) == untouched
    assert sorted(project_state(dev)["volumes"]) == [f"{dev}_objects", f"{dev}_pgdata"], (
        "down keeps the dev database, and the object store make test started"
    )

    make("clean", *target, cwd=path)
    assert project_state(production) == untouched
    assert project_state(dev) == {"containers": [], "volumes": []}


def test_a_prune_the_engine_refuses_does_not_fail_make_build(tmp_path):
    """make build and make up prune the image a rebuild left untagged; the
    engine refuses a prune while another one runs (`a prune operation is
    already running`), which must not fail the user's command. A docker that
    refuses every image prune, as the engine does then, stands in for the
    other prune (a real race could not be timed)."""
    path = committed_clone(tmp_path / "shop")
    refusing = tmp_path / "bin"
    refusing.mkdir()
    (refusing / "docker").write_text(
        "#!/bin/sh\nset -eu\n"
        'if [ "$1 $2" = "image prune" ]; then\n'
        '  echo "Error response from daemon: a prune operation is already running" >&2; exit 1\nfi\n'
        f'exec {shutil.which("docker")} "$@"\n'
    )
    (refusing / "docker").chmod(0o755)
    project = f"babyshop-e2e-{RUN_ID}-prune"
    env = {"PATH": f"{refusing}:{os.environ['PATH']}"}
    try:
        built = make("build", f"DEV_PROJECT={project}", cwd=path, env=env, check=False, timeout=900)
    finally:
        remove_dev_stack(project, path)
    assert built.returncode == 0, built.stderr
    assert "a prune operation is already running" in built.stderr
    assert f"not pruned now: the untagged images of {project} go at the next build" in built.stderr
