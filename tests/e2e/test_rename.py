"""make rename: a clone renamed to acme_store names the old project nowhere,
passes its app suite, and its production image builds and serves the site
under the new name. Everything it starts runs under names of its own and is
removed at the end."""

import re

import pytest

from conftest import PROJECT, RUN_ID, Stack, committed_clone, make, remove_dev_stack, run

NEW = "acme_store"
# Files that must go on naming the old project: the Makefile, whose
# FORMER_DEV_PROJECTS tells make clean what the old name's dev stack left.
MAY_NAME_THE_OLD_PROJECT = {"Makefile"}


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    """A clone of the working tree (committed), after `make rename NAME=acme_store`."""
    path = committed_clone(tmp_path_factory.mktemp("rename") / "shop")
    # The rename asks the dev image for its modules: a project name of its own.
    checker = f"babyshop-e2e-{RUN_ID}-rename"
    result = make("rename", f"NAME={NEW}", cwd=path, env={"DEV_PROJECT": checker})
    try:
        yield path, result.stdout
    finally:
        # The checker's project, then the renamed dev stack that make test left running.
        for project in (checker, "acme-store"):
            remove_dev_stack(project, path)
        run("docker", "image", "rm", "--force", "acme-store-dev", f"acme-store-e2e:{RUN_ID}", check=False)


def test_the_old_name_is_gone(renamed):
    """In no tracked file or path, in any spelling (dashes or underscores)."""
    path, output = renamed
    assert re.search(rf"rename: {PROJECT} -> {NEW}: \d+ lines in \d+ files, \d+ paths moved", output), output
    listed = run(
        "git", "-C", str(path), "ls-files", "--cached", "--others", "--exclude-standard"
    ).stdout.split()
    old = re.compile(PROJECT.replace("_", "[_-]"), re.IGNORECASE)
    naming = {name for name in listed if old.search(name)}
    for name in listed:
        try:
            if old.search((path / name).read_text(encoding="utf-8")):
                naming.add(name)
        except UnicodeDecodeError:
            continue
    assert naming == MAY_NAME_THE_OLD_PROJECT
    assert (path / f"{NEW}_app" / NEW / "settings.py").is_file()
    assert "name: acme-store\n" in (path / "docker-compose.yml").read_text()
    assert "DEPLOY_PATH ?= /srv/acme-store" in (path / "Makefile").read_text()
    assert "class AcmeStoreConfig" in (path / f"{NEW}_app" / NEW / "apps.py").read_text()
    makefile = (path / "Makefile").read_text()
    naming = [line for line in makefile.splitlines() if PROJECT in line]
    assert naming == [f"FORMER_DEV_PROJECTS := {PROJECT}"]


def test_a_second_run_changes_nothing_and_bad_input_is_refused(renamed):
    """The same name again: nothing to do. A bad name, or another rename on
    top of uncommitted changes: one line saying why, nothing changed."""
    path, _ = renamed
    before = run("git", "-C", str(path), "status", "--porcelain").stdout
    again = make("rename", f"NAME={NEW}", cwd=path)
    assert "already named acme_store: nothing to change" in again.stdout
    assert run("git", "-C", str(path), "status", "--porcelain").stdout == before
    for name, message in [
        ("Acme", "is not valid: expected a lower-case Python identifier"),
        ("json", "is already a module of the standard library"),
        ("django", "is already a module of an installed package"),
        ("users", "is already a module of this project"),
    ]:
        refused = run("python3", "scripts/rename.py", name, cwd=path, check=False)
        assert refused.returncode != 0, name
        assert message in refused.stderr, refused.stderr
    dirty = run("python3", "scripts/rename.py", "other_shop", cwd=path, check=False)
    assert "the working tree has uncommitted changes" in dirty.stderr, dirty.stderr
    assert run("git", "-C", str(path), "status", "--porcelain").stdout == before


def test_the_renamed_clone_passes_its_tests(renamed):
    path, _ = renamed
    result = make("test", "ARGS=-q -p no:randomly", cwd=path, check=False, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)
    database = run(
        "docker",
        "compose",
        "exec",
        "-T",
        "db",
        "psql",
        "-U",
        NEW,
        "-tAc",
        "SELECT current_database()",
        cwd=path,
    )
    assert database.stdout.strip() == NEW


def test_the_renamed_production_image_serves_the_site(renamed, tmp_path):
    path, _ = renamed
    image = f"acme-store-e2e:{RUN_ID}"
    run("docker", "build", "--target", "production", "--tag", image, str(path), timeout=1800)
    stack = Stack(tmp_path, "renamed", root=path, IMAGE="acme-store-e2e", TAG=RUN_ID)
    try:
        stack.up()
        stack.trust_proxy_ca()
        home = stack.get("/")
        assert home.status_code == 200
        assert "<title>acme_store</title>" in home.text
        # The database user and name default to the new name.
        count = stack.exec(
            "db", "psql", "-U", NEW, "-d", NEW, "-tAc", "SELECT count(*) FROM django_migrations"
        )
        assert int(count.stdout) > 0
    finally:
        stack.down()


def test_make_clean_removes_what_a_former_name_left(renamed):
    """After a rename the old name's dev stack (its volume, network and image)
    would be orphaned: make clean removes those of every FORMER_DEV_PROJECTS
    too. A project name of this run's stands for the old one here."""
    path, _ = renamed
    former, current = f"babyshop-e2e-{RUN_ID}-former", f"babyshop-e2e-{RUN_ID}-current"
    dev = ["docker", "compose", "-p", former, "--env-file", "/dev/null", "-f", "docker-compose.yml"]
    run(*dev, "create", "db", cwd=path)
    labels = f"label=com.docker.compose.project={former}"
    dockerfile = f"FROM postgres:17\nLABEL com.docker.compose.project={former}\n"
    run("docker", "build", "--quiet", "--tag", f"{former}-dev", "-", input=dockerfile, cwd=path)
    run("docker", "tag", "postgres:17", f"{former}-leftover")  # no compose label: must stay
    assert run("docker", "volume", "ls", "--quiet", "--filter", labels).stdout.split() == [f"{former}_pgdata"]
    try:
        make("clean", f"DEV_PROJECT={current}", f"FORMER_DEV_PROJECTS={former}", cwd=path)
        for kind, everything in (("container", ["--all"]), ("volume", []), ("network", []), ("image", [])):
            left = run("docker", kind, "ls", *everything, "--quiet", "--filter", labels)
            assert left.stdout.split() == [], kind
        assert run("docker", "image", "ls", "--quiet", f"{former}-leftover").stdout.strip(), "not ours: kept"
    finally:
        run(*dev, "down", "--volumes", cwd=path, check=False)
        run("docker", "image", "rm", f"{former}-leftover", f"{former}-dev", check=False)
