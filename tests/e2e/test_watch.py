"""`make watch`'s stack (docker-compose.yml + docker-compose.watch.yml):
the dev stack without the bind mount, where Compose copies a saved file into
the running container. Run on a copy of the tree under its own project
name, image tag and loopback port; torn down with its volumes."""

import os
import subprocess
import time

import pytest
import requests

from conftest import RUN_ID, copy_working_tree, free_port, inspect, run


def page(url):
    try:
        return requests.get(url, timeout=5).text
    except requests.RequestException:
        return ""


def wait_for(condition, what, seconds, log):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds}s; compose watch said:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


@pytest.fixture
def watched(tmp_path):
    """The copy, with `docker compose watch` running on it."""
    tree = tmp_path / "tree"
    copy_working_tree(tree)
    # Its own image tag, so that the user's babyshop-dev is left alone.
    image = f"babyshop-e2e-watch:{RUN_ID}"
    (tree / "docker-compose.e2e.yml").write_text(f"services:\n  web:\n    image: {image}\n")
    port = free_port()
    env = {**os.environ, "DEV_PORT": str(port), "HOST_UID": str(os.getuid()), "HOST_GID": str(os.getgid())}
    compose = ["docker", "compose", "-p", f"babyshop-e2e-{RUN_ID}-watch", "-f", "docker-compose.yml",
               "-f", "docker-compose.watch.yml", "-f", "docker-compose.e2e.yml"]  # fmt: skip
    log = tmp_path / "watch.log"
    with log.open("w") as output:
        watcher = subprocess.Popen([*compose, "watch"], cwd=tree, env=env, stdout=output, stderr=output)
    try:
        yield tree, f"http://127.0.0.1:{port}", log, lambda *args: run(*compose, *args, cwd=tree, env=env)
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
        run(*compose, "down", "--volumes", "--remove-orphans", cwd=tree, env=env, check=False)
        run("docker", "image", "rm", "--force", image, check=False)


def test_a_saved_template_shows_without_a_bind_mount(watched):
    tree, url, log, compose = watched
    wait_for(lambda: "Baby Monitor" in page(url + "/"), "the dev stack did not serve the shop", 300, log)
    web = compose("ps", "--quiet", "web").stdout.strip()
    assert "bind" not in inspect(web, "{{range .Mounts}}{{.Type}} {{end}}"), "the code is not mounted"
    base = tree / "babyshop_app" / "templates" / "base.html"
    base.write_text(base.read_text().replace("a Django + Docker blueprint", "saved while watched"))
    wait_for(lambda: "saved while watched" in page(url + "/"), "the edit did not show", 60, log)
