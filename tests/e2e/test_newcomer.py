"""The newcomer's path: every step of the README, in order, on a fresh clone.
`make up`, `make test`, `make rename`, `make test`, `make remove-demo`, an
app of one's own (`make manage ARGS="startapp notes"`, then a model with a
picture, a view, a template linking the app's own stylesheet through
base.html's head block, a tests.py using assert), `make makemigrations`,
`make lint`, `make test`, `make bench` (its figures for the project's own
pages, none of the demo's), then the production stack serving the app's
page and stylesheet over HTTPS, backup and restore bringing its rows back,
and `make down` leaving nothing of the dev stack behind. Nothing is edited
but the app's own files and what the README names: INSTALLED_APPS, urls.py."""

import json
import re

from conftest import (
    RUN_ID,
    Stack,
    client,
    committed_clone,
    csrf_token,
    edit,
    free_port,
    make,
    png,
    remove_dev_stack,
    run,
)

NAME = "acme_store"
# What the newcomer writes into the app startapp made (or adds to it).
APP = {
    "notes/models.py": """from django.db import models

from acme_store.images import ImageField


class Note(models.Model):
    title = models.CharField(max_length=100)
    picture = ImageField(upload_to="notes/", blank=True)

    def __str__(self):
        return self.title
""",
    "notes/admin.py": (
        "from django.contrib import admin\n\nfrom notes.models import Note\n\nadmin.site.register(Note)\n"
    ),
    "notes/views.py": """from django.views.generic import ListView

from notes.models import Note


class NoteList(ListView):
    model = Note
""",
    "notes/urls.py": (
        "from django.urls import path\n\nfrom notes.views import NoteList\n\n"
        'urlpatterns = [path("", NoteList.as_view(), name="notes")]\n'
    ),
    "notes/templates/notes/note_list.html": """{% extends "base.html" %}
{% load static %}
{% block head %}<link rel="stylesheet" href="{% static 'notes/notes.css' %}">{% endblock %}
{% block content %}
<ul class="notes">{% for note in object_list %}
  <li>{{ note.title }}{% if note.picture %} <img src="{{ note.picture.url }}" alt="">{% endif %}</li>
{% endfor %}</ul>
{% endblock %}
""",
    "notes/static/notes/notes.css": ".notes { list-style: square; }\n",
    "notes/tests.py": """import pytest

from notes.models import Note

pytestmark = pytest.mark.django_db


def test_the_list_shows_the_notes(client):
    Note.objects.create(title="First note")
    assert b"First note" in client.get("/notes/").content
""",
    # The app's own page in make bench (tests/bench/bench.py runs each app's bench.py).
    "notes/bench.py": 'PAGES = {"notes": "/notes/"}\n',
}


def add_note(stack, title, picture=None):
    """Through the admin, as its user would."""
    form = stack.get("/admin/notes/note/add/")
    files = {"picture": (f"{title}.png", picture, "image/png")} if picture else None
    saved = stack.post(
        "/admin/notes/note/add/", data={"csrfmiddlewaretoken": csrf_token(form), "title": title}, files=files
    )
    assert "was added successfully" in saved.text


def app_tests_pass(path, target):
    result = make("test", *target, "ARGS=-q -rp", cwd=path, check=False, timeout=3600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return result.stdout


def commit(path, message):
    run("git", "-C", str(path), "add", "--all")
    run("git", "-C", str(path), "commit", "--quiet", "--message", message)


def dev_volumes(project):
    """The volumes the dev project's containers have mounted, as {name: anonymous}."""
    names = set()
    for container in dev_containers(project):
        mounts = run("docker", "inspect", "--format", "{{json .Mounts}}", container).stdout
        names |= {mount["Name"] for mount in json.loads(mounts) if mount["Type"] == "volume"}
    return {name: "com.docker.volume.anonymous" in volume_labels(name) for name in names}


def dev_containers(project):
    listed = run(
        "docker", "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={project}"
    )
    return listed.stdout.split()


def volume_labels(name):
    return json.loads(run("docker", "volume", "inspect", "--format", "{{json .Labels}}", name).stdout) or {}


def test_the_readme_from_a_fresh_clone_to_production(tmp_path):
    path = committed_clone(tmp_path / "shop")
    dev = f"babyshop-e2e-{RUN_ID}-newcomer-dev"
    target = [f"DEV_PROJECT={dev}"]
    port = free_port()
    image = f"acme-store-newcomer-e2e:{RUN_ID}"
    stack = None
    try:
        # "Start in two commands"
        make("up", *target, f"DEV_PORT={port}", f"MAIL_UI_PORT={free_port()}", cwd=path, timeout=1200)
        home = client().get(f"http://127.0.0.1:{port}/", timeout=10)
        assert home.status_code == 200
        app_tests_pass(path, target)

        # "Make it yours"
        make("rename", f"NAME={NAME}", *target, cwd=path, timeout=1200)
        commit(path, "rename")
        app_tests_pass(path, target)
        app = path / f"{NAME}_app"
        assert list((app / "media" / "products").iterdir()), "make up loaded the demo's pictures"
        make("remove-demo", cwd=path)
        assert not (app / "media" / "products").exists(), "the demo's pictures are left in media/"
        commit(path, "no demo")
        assert "nothing to change" in make("remove-demo", cwd=path).stdout

        make("manage", *target, "ARGS=startapp notes", cwd=path)
        for name, text in APP.items():
            (app / name).parent.mkdir(parents=True, exist_ok=True)
            (app / name).write_text(text)
        edit(app / NAME / "settings.py", '    "users",\n', '    "users",\n    "notes",\n')
        notes_urls = '    path("notes/", include("notes.urls")),\n'
        edit(app / NAME / "urls.py", "urlpatterns = [\n", "urlpatterns = [\n" + notes_urls)
        made = make("makemigrations", *target, cwd=path)
        assert "notes/migrations/0001_initial.py" in made.stdout
        # Only the app's own files, and the two the README names.
        changed = run("git", "-C", str(path), "status", "--porcelain", "--untracked-files=all").stdout
        changed = {line[3:] for line in changed.splitlines()}
        assert {name for name in changed if not name.startswith(f"{NAME}_app/notes/")} == {
            f"{NAME}_app/{NAME}/settings.py",
            f"{NAME}_app/{NAME}/urls.py",
        }
        lint = make("lint", *target, cwd=path, check=False, timeout=1800)
        assert lint.returncode == 0, lint.stdout[-3000:] + lint.stderr[-3000:]
        # startapp's tests.py is collected (-rp names each test passed).
        assert "PASSED notes/tests.py::test_the_list_shows_the_notes" in app_tests_pass(path, target)

        bench = make("bench", cwd=path, env={"BENCH_QUICK": "1"}, check=False, timeout=3600)
        assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-3000:]
        assert re.search(r"\| production web, direct +\| /notes/ +\| +\d+ \|", bench.stdout), bench.stdout
        demo = r"seed_demo|/cart/|/checkout|/products/|/category/|checkouts"
        assert re.findall(demo, bench.stdout + bench.stderr) == [], bench.stdout

        # "Deploy, in short", on this machine: the production stack over HTTPS.
        commit(path, "notes")
        run("docker", "build", "--target", "production", "--tag", image, str(path), timeout=1800)
        stack = Stack(
            tmp_path, "newcomer", root=path, IMAGE=image.split(":")[0], TAG=RUN_ID,
            POSTGRES_DB=NAME, POSTGRES_USER=NAME,
        )  # fmt: skip
        stack.up()
        stack.trust_proxy_ca()
        visitor = client(verify=stack.http.verify)
        page = visitor.get(stack.url + "/notes/", timeout=10)
        assert page.status_code == 200
        head = page.text.split("</head>")[0]
        stylesheet = re.search(r'href="(/static/notes/notes\.[0-9a-f]{12}\.css)"', head).group(1)
        css = visitor.get(stack.url + stylesheet, timeout=10)
        assert css.status_code == 200
        assert "list-style: square" in css.text

        stack.login_admin()
        picture = png(24, 24, (10, 120, 200))
        add_note(stack, "Kept note", picture)
        listed = visitor.get(stack.url + "/notes/", timeout=10).text
        upload = re.search(r'<img src="(/media/notes/[^"]+)"', listed).group(1)
        assert visitor.get(stack.url + upload, timeout=10).content == picture

        operate = {"ENV_FILE": str(stack.env_file), "COMPOSE_PROJECT_NAME": stack.project}
        backups = tmp_path / "backups"
        make("backup", env={**operate, "BACKUP_DIR": str(backups)}, cwd=path)
        (backup,) = backups.iterdir()
        assert "notes_note 1" in (backup / "contents.txt").read_text().splitlines()
        add_note(stack, "Later")
        make("restore", f"BACKUP={backup}", "CONFIRM=yes", env=operate, cwd=path, timeout=900)
        assert stack.psql("SELECT string_agg(title, ',') FROM notes_note") == "Kept note"
        assert visitor.get(stack.url + upload, timeout=10).content == picture

        # make down stops the dev stack and leaves no anonymous volume behind.
        volumes = dev_volumes(dev)
        make("down", *target, cwd=path)
        assert dev_containers(dev) == []
        listed = set(run("docker", "volume", "ls", "--quiet").stdout.split())
        assert [name for name, anonymous in volumes.items() if anonymous and name in listed] == []
    finally:
        if stack:
            stack.down()
        remove_dev_stack(dev, path)
        run("docker", "image", "rm", "--force", image, "acme-store-dev", check=False)
