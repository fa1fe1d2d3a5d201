"""A newcomer's own project, end to end, as the README tells it: a fresh
clone, `make rename`, `make remove-demo`, a small app of one's own (a model
with a picture, its migration from `make makemigrations`, a cached view, a
template, a static file, a test), `make test`, then production: the page
with its stylesheet, cached, fresh after an admin save, the upload served,
and `make backup` + `make restore` bringing its rows back. Nothing is edited
but what the README names: INSTALLED_APPS, PAGE_CACHE_MODELS, urls.py."""

import re

import pytest

from conftest import (
    RUN_ID,
    Stack,
    client,
    committed_clone,
    csrf_token,
    edit,
    make,
    png,
    remove_dev_stack,
    run,
)

NAME = "acme_store"
APP = {
    "notes/__init__.py": "",
    "notes/migrations/__init__.py": "",  # as startapp makes it
    "notes/apps.py": (
        "from django.apps import AppConfig\n\n\nclass NotesConfig(AppConfig):\n    name = 'notes'\n"
    ),
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
    "notes/views.py": """from django.utils.decorators import method_decorator
from django.views.generic import ListView

from acme_store.pagecache import cache_anonymous_page
from notes.models import Note


@method_decorator(cache_anonymous_page, name="dispatch")
class NoteList(ListView):
    model = Note
""",
    "notes/urls.py": (
        "from django.urls import path\n\nfrom notes.views import NoteList\n\n"
        'urlpatterns = [path("", NoteList.as_view(), name="notes")]\n'
    ),
    "notes/templates/notes/note_list.html": """{% extends "base.html" %}
{% load static %}
{% block content %}
<link rel="stylesheet" href="{% static 'notes/notes.css' %}">
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
}


def add_note(stack, title, picture=None):
    """Through the admin, as its user would."""
    form = stack.get("/admin/notes/note/add/")
    files = {"picture": (f"{title}.png", picture, "image/png")} if picture else None
    saved = stack.post(
        "/admin/notes/note/add/", data={"csrfmiddlewaretoken": csrf_token(form), "title": title}, files=files
    )
    assert "was added successfully" in saved.text


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The clone, renamed, without the demo, with the notes app and its migration."""
    path = committed_clone(tmp_path_factory.mktemp("newcomer") / "shop")
    dev = f"babyshop-e2e-{RUN_ID}-newcomer-dev"
    target = [f"DEV_PROJECT={dev}"]
    try:
        make("rename", f"NAME={NAME}", *target, cwd=path)
        run("git", "-C", str(path), "commit", "--quiet", "--all", "--message", "rename")
        removed = make("remove-demo", cwd=path)
        assert "remove-demo: 3 paths and" in removed.stdout, removed.stdout
        run("git", "-C", str(path), "commit", "--quiet", "--all", "--message", "no demo")
        assert "nothing to change" in make("remove-demo", cwd=path).stdout

        app = path / f"{NAME}_app"
        for name, text in APP.items():
            (app / name).parent.mkdir(parents=True, exist_ok=True)
            (app / name).write_text(text)
        settings = app / NAME / "settings.py"
        edit(settings, '    "users",\n', '    "users",\n    "notes",\n')
        edit(settings, "PAGE_CACHE_MODELS = [\n", 'PAGE_CACHE_MODELS = [\n    "notes.Note",\n')
        home = '    path("", cache_anonymous_page'
        edit(app / NAME / "urls.py", home, '    path("notes/", include("notes.urls")),\n' + home)
        made = make("makemigrations", *target, cwd=path)
        assert "notes/migrations/0001_initial.py" in made.stdout
        yield path, target
    finally:
        remove_dev_stack(dev, path)
        run("docker", "image", "rm", "--force", "acme-store-dev", check=False)


def test_nothing_names_the_demo_or_the_old_name(project):
    path, _ = project
    listed = run("git", "-C", str(path), "ls-files").stdout.split()
    assert not [name for name in listed if name.startswith(f"{NAME}_app/products/")]
    app_code = [n for n in listed if n.startswith(f"{NAME}_app/") and n.endswith((".py", ".html"))]
    naming = [name for name in app_code if re.search(r"\bproducts\b|seed_demo", (path / name).read_text())]
    assert naming == []


def test_make_test_passes_with_the_new_app(project):
    path, target = project
    result = make("test", *target, "ARGS=-q -rp", cwd=path, check=False, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # The tests.py that startapp makes is collected (-rp names each test passed).
    assert "PASSED notes/tests.py::test_the_list_shows_the_notes" in result.stdout
    assert re.search(r"\d+ passed", result.stdout)


def test_in_production_the_app_is_served_cached_and_backed_up(project, tmp_path):
    path, _ = project
    image = f"acme-store-newcomer-e2e:{RUN_ID}"
    run("docker", "build", "--target", "production", "--tag", image, str(path), timeout=1800)
    stack = Stack(
        tmp_path, "newcomer", root=path, IMAGE=image.split(":")[0], TAG=RUN_ID, PAGE_CACHE="true",
        POSTGRES_DB=NAME, POSTGRES_USER=NAME,
    )  # fmt: skip
    operate = {"ENV_FILE": str(stack.env_file), "COMPOSE_PROJECT_NAME": stack.project}
    try:
        stack.up()
        stack.trust_proxy_ca()
        visitor = client(verify=stack.http.verify)
        home = visitor.get(stack.url + "/", timeout=10)
        assert "<h1>It works</h1>" in home.text

        first = visitor.get(stack.url + "/notes/", timeout=10)
        assert first.status_code == 200
        stylesheet = re.search(r'href="(/static/notes/notes\.[0-9a-f]{12}\.css)"', first.text).group(1)
        css = visitor.get(stack.url + stylesheet, timeout=10)
        assert css.status_code == 200
        assert "list-style: square" in css.text
        assert visitor.get(stack.url + "/notes/", timeout=10).headers["X-Cache"] == "hit"

        stack.login_admin()
        picture = png(24, 24, (10, 120, 200))
        add_note(stack, "Kept note", picture)
        after = visitor.get(stack.url + "/notes/", timeout=10)
        assert after.headers["X-Cache"] == "miss", "the admin's save made the cached page stale"
        assert "Kept note" in after.text
        upload = re.search(r'<img src="(/media/notes/[^"]+)"', after.text).group(1)
        served = visitor.get(stack.url + upload, timeout=10)
        assert served.status_code == 200
        assert served.content == picture

        backups = tmp_path / "backups"
        make("backup", env={**operate, "BACKUP_DIR": str(backups)}, cwd=path)
        (backup,) = backups.iterdir()
        assert "notes_note 1" in (backup / "contents.txt").read_text().splitlines()

        # A note added after the backup, on a page the cache then holds.
        add_note(stack, "Later")
        assert "Later" in visitor.get(stack.url + "/notes/", timeout=10).text
        assert visitor.get(stack.url + "/notes/", timeout=10).headers["X-Cache"] == "hit"

        make("restore", f"BACKUP={backup}", "CONFIRM=yes", env=operate, cwd=path, timeout=900)
        assert stack.psql("SELECT string_agg(title, ',') FROM notes_note") == "Kept note"
        restored = visitor.get(stack.url + "/notes/", timeout=10)
        assert "Kept note" in restored.text
        assert "Later" not in restored.text, "the restore made every cached page stale"
        assert visitor.get(stack.url + upload, timeout=10).content == picture
    finally:
        stack.down()
        run("docker", "image", "rm", "--force", image, check=False)
