"""make upgrade: a project made from the blueprint (renamed, its demo taken
out, changes of its own committed) takes a later blueprint commit that
touches renamed files, and the demo: it merges without a conflict, and the
app suite passes."""

import pytest

from conftest import RUN_ID, committed_clone, edit, make, remove_dev_stack, run

NAME = "acme_store"


def git(path, *args):
    return run("git", "-C", str(path), *args).stdout.strip()


def commit_all(path, message):
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--message", message)


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """(blueprint, project, its branch, make upgrade's output)."""
    base = tmp_path_factory.mktemp("upgrade")
    blueprint = committed_clone(base / "blueprint")
    branch = git(blueprint, "rev-parse", "--abbrev-ref", "HEAD")
    project = base / "project"
    run("git", "clone", "--quiet", str(blueprint), str(project))
    git(project, "config", "user.email", "owner@example.com")
    git(project, "config", "user.name", "owner")
    dev = f"babyshop-e2e-{RUN_ID}-upgrade"
    try:
        make("rename", f"NAME={NAME}", f"DEV_PROJECT={dev}", cwd=project)
        commit_all(project, "rename")
        make("remove-demo", cwd=project)
        commit_all(project, "no demo")
        home = project / f"{NAME}_app" / "templates" / "home.html"
        edit(home, "<h1>It works</h1>", "<h1>Acme's store</h1>")
        (project / "NOTES.md").write_text("Our own notes.\n")
        commit_all(project, "our own changes")

        # The blueprint moves on: its settings, its production compose file,
        # a new page, and the demo (which the project no longer has).
        app = blueprint / "babyshop_app"
        login = 'LOGIN_URL = "login"'
        edit(app / "babyshop" / "settings.py", login, "# Where babyshop sends a visitor to log in.\n" + login)
        edit(blueprint / "docker-compose.prod.yml", "  web:\n", "  # web: babyshop's gunicorn.\n  web:\n")
        (blueprint / "docs" / "upgrading.md").write_text("# Upgrading babyshop\n")
        category = "class Category(models.Model):"
        edit(app / "products" / "models.py", category, category + "  # a change to the demo")
        commit_all(blueprint, "the blueprint moves on")

        result = make("upgrade", f"BLUEPRINT={blueprint}", f"BLUEPRINT_REF={branch}", cwd=project)
        yield blueprint, project, branch, result.stdout, dev
    finally:
        remove_dev_stack(dev, project)
        run("docker", "image", "rm", "--force", "acme-store-dev", check=False)


def test_the_blueprints_change_arrives_renamed_beside_the_projects_own(upgraded):
    blueprint, project, _, output, _ = upgraded
    assert "upgrade: took the blueprint's" in output
    assert git(project, "status", "--porcelain") == ""
    settings = (project / f"{NAME}_app" / NAME / "settings.py").read_text()
    assert "# Where acme_store sends a visitor to log in.\n" in settings
    assert "  # web: acme_store's gunicorn.\n" in (project / "docker-compose.prod.yml").read_text()
    assert (project / "docs" / "upgrading.md").read_text() == "# Upgrading acme_store\n"
    assert "<h1>Acme's store</h1>" in (project / f"{NAME}_app" / "templates" / "home.html").read_text()
    assert (project / "NOTES.md").is_file()
    assert not list(project.glob("*_app/products")), "the demo's change did not bring the demo back"
    # The merge's second parent is the blueprint's commit: the next upgrade starts there.
    assert git(project, "rev-parse", "HEAD^2") == git(blueprint, "rev-parse", "HEAD")
    again = make("upgrade", f"BLUEPRINT={blueprint}", f"BLUEPRINT_REF={upgraded[2]}", cwd=project)
    assert "nothing to take" in again.stdout


def test_the_upgraded_project_passes_its_tests(upgraded):
    _, project, _, _, dev = upgraded
    result = make("test", f"DEV_PROJECT={dev}", "ARGS=-q", cwd=project, check=False, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
