"""`make watch`'s stack (docker-compose.yml + docker-compose.watch.yml):
the dev stack without the bind mount, where Compose copies a saved file into
the running container. Run on a copy of the tree under its own project
name, image tag and loopback port; torn down with its volumes."""

import os
import subprocess

import pytest
import requests

from conftest import RUN_ID, copy_working_tree, free_port, inspect, run, wait_until


def page(url):
    try:
        return requests.get(url, timeout=5).text
    except requests.RequestException:
        return ""


@pytest.fixture
def watched(tmp_path):
    """The copy, with `docker compose watch` running on it."""
    tree = tmp_path / "tree"
    copy_working_tree(tree)
    # Its own image tag, so that the user's babyshop-dev is left alone.
    image = f"babyshop-e2e-watch:{RUN_ID}"
    (tree / "docker-compose.e2e.yml").write_text(
        f"services:\n  web:\n    image: {image}\n  worker:\n    image: {image}\n"
    )
    port = free_port()
    env = {
        **os.environ, "DEV_PORT": str(port), "MAIL_UI_PORT": str(free_port()),
        "HOST_UID": str(os.getuid()), "HOST_GID": str(os.getgid()),
    }  # fmt: skip
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

    def said():
        return f"compose watch said:\n{log.read_text()[-3000:]}"

    served = "a Django + Docker blueprint"
    wait_until(lambda: served in page(url + "/"), "the dev stack to serve /", 300, said)
    web = compose("ps", "--quiet", "web").stdout.strip()
    assert "bind" not in inspect(web, "{{range .Mounts}}{{.Type}} {{end}}"), "the code is not mounted"
    base = tree / "babyshop_app" / "templates" / "base.html"
    base.write_text(base.read_text().replace("a Django + Docker blueprint", "saved while watched"))
    wait_until(lambda: "saved while watched" in page(url + "/"), "the saved template to show", 60, said)
