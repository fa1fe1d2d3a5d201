"""make rename: a clone renamed to acme_store names the old project nowhere,
passes its app suite and its lint, and its production image builds and
serves the site under the new name. Everything it starts runs under names of
its own and is removed at the end."""

import re

import pytest

from conftest import PROJECT, ROOT, RUN_ID, Stack, committed_clone, make, remove_dev_stack, run

NEW = "acme_store"
# Files that must go on naming the old project: the CHANGELOG's history.
MAY_NAME_THE_OLD_PROJECT = {"CHANGELOG.md"}
# The host tools `make e2e` installed, lent to the clones (VENV=...): no venv each.
TOOLS = ROOT / ".venv"


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    """A clone of the working tree (committed) whose dev database exists, as
    after the README's make up (make migrate makes it: make up's other
    services play no part here), after `make rename NAME=acme_store`; its dev
    project a name of this run's."""
    path = committed_clone(tmp_path_factory.mktemp("rename") / "shop")
    project = f"babyshop-e2e-{RUN_ID}-rename"
    try:
        make("migrate", f"DEV_PROJECT={project}", cwd=path, timeout=900)
        result = make("rename", f"NAME={NEW}", f"DEV_PROJECT={project}", f"VENV={TOOLS}", cwd=path)
        yield path, result.stdout, project
    finally:
        remove_dev_stack(project, path)
        run("docker", "image", "rm", "--force", "acme-store-dev", f"acme-store-e2e:{RUN_ID}", check=False)


def ruff(path, *args):
    return run(str(TOOLS / "bin" / "ruff"), *args, cwd=path, check=False)


def test_the_old_name_is_gone(renamed):
    """In no tracked file or path, in any spelling (dashes or underscores),
    but the CHANGELOG's history, which stays as it was written."""
    path, output, _ = renamed
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
    assert run("git", "-C", str(path), "diff", "HEAD", "--", "CHANGELOG.md").stdout == ""


def test_a_second_run_changes_nothing_and_bad_input_is_refused(renamed):
    """The same name again: nothing to do. A bad name, or another rename on
    top of uncommitted changes: one line saying why, nothing changed."""
    path, _, _ = renamed
    before = run("git", "-C", str(path), "status", "--porcelain").stdout
    again = make("rename", f"NAME={NEW}", f"VENV={TOOLS}", cwd=path)
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
    """The README's next step: make test, on the dev database made before
    the rename. Its database was made for the old name's user, so the
    rename removed it, saying so, and make test makes the new name's."""
    path, output, project = renamed
    assert f"rename: removed the dev stack {project} and its database (made for {PROJECT}," in output
    result = make(
        "test", f"DEV_PROJECT={project}", "ARGS=-q -p no:randomly", cwd=path, check=False, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)
    dev = ["docker", "compose", "-p", project, "--env-file", "/dev/null", "-f", "docker-compose.yml"]
    database = run(*dev, "exec", "-T", "db", "psql", "-U", NEW, "-tAc", "SELECT current_database()", cwd=path)
    assert database.stdout.strip() == NEW


def test_the_renamed_clone_passes_ruff(renamed):
    """make lint's ruff: the lines the new name made longer are wrapped again."""
    path, _, _ = renamed
    for check in (ruff(path, "check", "."), ruff(path, "format", "--check", ".")):
        assert check.returncode == 0, check.stdout


def test_the_renamed_production_image_serves_the_site(renamed, tmp_path):
    path, _, _ = renamed
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


def test_make_clean_removes_only_the_dev_stack_of_the_name_it_has(renamed):
    """Another checkout may go on under the old name, its dev stack under
    the old project: make clean must not touch it (the rename removed this
    checkout's own)."""
    path, _, _ = renamed
    clean = make("--dry-run", "clean", "DEV_PROJECT=acme-store-e2e-clean", cwd=path).stdout
    assert "--project-name acme-store-e2e-clean " in clean
    assert not re.search(PROJECT.replace("_", "[_-]"), clean), clean


def test_lint_is_green_after_a_rename_to_the_longest_name_and_with_an_apps_tests(tmp_path):
    """40 characters, the most make rename takes; and a startapp's tests.py
    with an assert, as the README invites."""
    path = committed_clone(tmp_path / "shop")
    longest = "a_shop_whose_name_is_forty_characters_xy"
    assert len(longest) == 40
    project = f"babyshop-e2e-{RUN_ID}-longest"
    try:
        make("rename", f"NAME={longest}", f"DEV_PROJECT={project}", f"VENV={TOOLS}", cwd=path)
    finally:
        remove_dev_stack(project, path)
    app = path / f"{longest}_app" / "notes"
    app.mkdir()
    (app / "tests.py").write_text('def test_notes():\n    assert "notes"\n')
    for check in (ruff(path, "check", "."), ruff(path, "format", "--check", ".")):
        assert check.returncode == 0, check.stdout


def test_make_format_formats_despite_what_it_cannot_fix(tmp_path):
    """ruff check --fix fails on what it cannot fix; make format formats
    anyway, then shows what is left."""
    path = committed_clone(tmp_path / "shop")
    module = path / "scripts" / "untidy.py"
    module.write_text("import sys,os\nprint( eval(sys.argv[1]), os.sep )\n")
    result = make("format", f"VENV={TOOLS}", cwd=path, check=False)
    assert module.read_text() == "import os\nimport sys\n\nprint(eval(sys.argv[1]), os.sep)\n"
    assert "S307" in result.stdout, "the eval, which no tool fixes, is shown"
    assert result.returncode != 0
