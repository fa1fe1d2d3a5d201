"""The production stack (docker-compose.prod.yml) as a user meets it."""

import collections
import json
import re
import threading
import time

import pytest

from conftest import PROJECT, TAG, Stack, anonymous, inspect, last_line, make, png, run, wait_until

MIGRATION_LINE = re.compile(r"\s*Applying (\S+)\.\.\. OK")


def migrations_applied(log):
    """The migrations a container's start applied, from its JSON log lines."""
    messages = (json.loads(line)["message"] for line in log.splitlines() if line.startswith("{"))
    return [match[1] for message in messages if (match := MIGRATION_LINE.fullmatch(message))]


def test_the_stack_becomes_healthy(stack):
    assert len(stack.containers("web")) == 2, "WEB_REPLICAS web containers (default 2)"
    assert len(stack.containers("worker")) == 1
    for service in ("web", "worker", "db"):
        for container in stack.containers(service):
            assert inspect(container, "{{.State.Health.Status}}") == "healthy"
            assert inspect(container, "{{.HostConfig.RestartPolicy.Name}}") == "unless-stopped"


def test_the_entrypoint_migrated_at_start_and_the_image_never_did(stack, image):
    applied = migrations_applied(stack.logs("web"))
    assert "users.0001_initial" in applied
    assert "sessions.0001_initial" in applied
    plan = stack.exec("web", "python", "manage.py", "showmigrations", "--plan").stdout
    assert "[X]" in plan
    assert "[ ]" not in plan
    history = run("docker", "history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert not re.search(r"manage\.py\s+(migrate|makemigrations)", history)


def test_static_files_are_hashed_compressed_and_cached_for_ever(stack):
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', stack.get("/").text)
    assert stylesheet, "the page links the content-hashed stylesheet"
    for encoding in ("gzip", "br"):
        response = stack.get(stylesheet.group(1), headers={"Accept-Encoding": encoding}, stream=True)
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        cache = response.headers["Cache-Control"]
        assert "max-age=315360000" in cache
        assert "immutable" in cache


def test_healthz_answers_through_the_proxy(stack):
    assert stack.get("/healthz").json() == {"status": "ok"}


def test_debug_is_off(stack):
    response = stack.get("/no-such-page/")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "URLconf" not in response.text


def test_every_process_is_unprivileged_under_an_init(stack):
    # /proc of the web and worker containers: PID 1 is Docker's init, which
    # forwards signals to gunicorn (the worker); every process runs as 10001
    # with no capabilities.
    script = (
        'for p in /proc/[0-9]*; do printf "%s|" "$(tr "\\0" " " < $p/cmdline)";'
        ' grep -E "^(Uid|CapEff):" $p/status | tr -s "\\t\\n" "  "; echo; done'
    )
    for service, command in (("web", "gunicorn --config gunicorn.conf.py"), ("worker", "manage.py worker")):
        output = stack.exec(service, "sh", "-c", script).stdout.strip().splitlines()
        # (The loop's own short-lived helpers may be gone before their line is read.)
        processes = [line for line in output if "Uid:" in line]
        assert stack.exec(service, "cat", "/proc/1/cmdline").stdout.startswith("/sbin/docker-init")
        assert any(command in line for line in processes), output
        for line in processes:
            assert "Uid: 10001 10001 10001 10001" in line, line
            assert "CapEff: 0000000000000000" in line, line


def test_the_runtime_image_holds_no_compiler_cache_or_tests(image):
    """Nothing that only builds: no compiler, pip, brotli, C or translation sources, tests."""
    script = (
        "for tool in gcc cc make; do command -v $tool && echo FOUND $tool; done;"
        '[ -z "$(ls -A /app/media)" ] || echo FOUND media;'
        "for path in /root/.cache/pip /app/pytest.ini /app/conftest.py /app/.env /app/.git"
        " /opt/venv/bin/pip /opt/venv/lib/python3.*/site-packages/pip"
        " /opt/venv/lib/python3.*/site-packages/pytest /opt/venv/lib/python3.*/site-packages/brotli.py;"
        " do [ -e $path ] && echo FOUND $path; done;"
        "find /opt/venv -name '*.c' -o -name '*.po' | sed 's/^/FOUND /' | head -3;"
        "find /app -name tests | sed 's/^/FOUND /' | head -3;"
        "ls /app/staticfiles/staticfiles.json"
    )
    result = run("docker", "run", "--rm", "--user", "root", "--entrypoint", "sh", image, "-c", script)
    assert "FOUND" not in result.stdout, result.stdout
    assert "/app/staticfiles/staticfiles.json" in result.stdout


def test_data_survives_a_restart(stack):
    stack.exec(
        "web", "python", "manage.py", "shell", "-c",
        "from django.contrib.auth import get_user_model as m; m().objects.create_user('restart-proof')",
    )  # fmt: skip
    picture = stack.place_upload("uploads/restart-proof.png", png(8, 8, (9, 9, 9)))
    stack.compose("down", "--timeout", "20")
    stack.up()
    assert stack.psql("SELECT count(*) FROM users_user WHERE username = 'restart-proof'") == "1"
    assert stack.get(picture).content == png(8, 8, (9, 9, 9))
    assert stack.get("/").status_code == 200


def migration_lock_id(image):
    """The advisory lock id of migrate_locked.py, as the image computes it."""
    module = f"{PROJECT}.management.commands.migrate_locked"
    show = f"import importlib; print(importlib.import_module({module!r}).MIGRATION_LOCK_ID)"
    return int(run("docker", "run", "--rm", "--entrypoint", "python", image, "-c", show).stdout)


@pytest.fixture
def crowd(image, tmp_path):
    """A fresh project: an empty database."""
    with Stack(tmp_path, "crowd") as stack:
        yield stack


def test_three_replicas_starting_at_once_migrate_exactly_once(crowd, image):
    crowd.up("db")
    # Hold the migration lock ourselves, so that the three containers are
    # certain to reach it together instead of one after another.
    hold = f"SELECT pg_advisory_lock({migration_lock_id(image)}); SELECT pg_sleep(120)"
    holder = crowd.compose_process("exec", "-T", "db", "psql", "-U", "babyshop", "-c", hold)
    granted = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    starter = None
    try:
        wait_until(lambda: crowd.psql(granted) == "1", "the test to hold the lock", timeout=90)
        starter = crowd.compose_process(
            "up", "--detach", "--wait", "--wait-timeout", "240", "--scale", "web=3"
        )
        wait_until(lambda: crowd.psql(waiting) == "3", "three containers queued on the lock", timeout=90)
        assert crowd.psql("SELECT to_regclass('django_migrations') IS NULL") == "t", "nobody migrated yet"
    finally:
        crowd.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
        )
        holder.wait(timeout=30)
        if starter:
            assert starter.wait(timeout=300) == 0, crowd.logs()

    containers = crowd.containers("web")
    assert len(containers) == 3
    applied = []
    for container in containers:
        assert inspect(container, "{{.State.Health.Status}}") == "healthy"
        assert inspect(container, "{{.RestartCount}}") == "0"
        applied += migrations_applied(run("docker", "logs", container).stdout)
    rows = int(crowd.psql("SELECT count(*) FROM django_migrations"))
    assert rows > 10
    # Every migration was applied by exactly one of the three containers.
    assert sorted(applied) == sorted(set(applied))
    assert len(applied) == rows
    # No shared cache by default: none runs, and each process caches in its own memory.
    assert "cache" not in crowd.compose("ps", "--all", "--services").stdout.split()
    readyz = (
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/readyz').read().decode())"
    )
    assert '"cache": "local"' in crowd.exec("web", "python", "-c", readyz).stdout


def test_prod_up_under_load_fails_no_request_posts_included(image, tmp_path, figures):
    """Clients keep posting a form while make prod-up replaces web: every
    POST gets Django's answer (403: no CSRF token), none the proxy's 502."""
    with Stack(tmp_path, "posts") as shop:
        shop.up()
        shop.trust_proxy_ca()
        answers, stop = collections.Counter(), threading.Event()

        def poster():
            session = anonymous(shop)
            while not stop.is_set():
                try:
                    answers[session.post(shop.url + "/accounts/login/", timeout=30).status_code] += 1
                except OSError as error:
                    answers[type(error).__name__] += 1

        threads = [threading.Thread(target=poster) for _ in range(6)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2)
            make("prod-up", f"ENV_FILE={shop.env_file}", env={"COMPOSE_PROJECT_NAME": shop.project})
            time.sleep(2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        figures.append(f"POSTs during prod-up: {dict(answers)}")
        assert set(answers) == {403}


def test_prod_up_keeps_the_running_web_when_the_new_one_never_turns_healthy(image, tmp_path):
    """make prod-up on a running stack, with an image whose health check
    fails: its new web containers are removed, make fails with one line, and
    the old containers were never stopped and still serve."""
    (tmp_path / "Dockerfile").write_text(
        f'FROM {image}\nHEALTHCHECK --interval=1s --timeout=2s --start-period=3s --retries=2 CMD ["false"]\n'
    )
    unhealthy = f"{image}-unhealthy"
    run("docker", "build", "--quiet", "--tag", unhealthy, str(tmp_path))
    shop = Stack(tmp_path, "unhealthy")
    try:
        shop.up()
        shop.trust_proxy_ca()
        running = {web: inspect(web, "{{.State.StartedAt}}") for web in shop.containers("web")}
        bad_env = tmp_path / "unhealthy-release.env"
        bad_env.write_text(shop.env_file.read_text().replace(f"TAG={TAG}\n", f"TAG={TAG}-unhealthy\n"))
        result = make(
            "prod-up", f"ENV_FILE={bad_env}", env={"COMPOSE_PROJECT_NAME": shop.project}, check=False
        )
        assert result.returncode != 0
        assert last_line(result).startswith("prod-up: the new web containers did not become healthy"), (
            result.stderr
        )
        assert {web: inspect(web, "{{.State.StartedAt}}") for web in shop.containers("web")} == running
        assert shop.compose("ps", "--all", "--quiet", "web").stdout.split() == shop.containers("web")
        assert shop.get("/").status_code == 200
    finally:
        shop.down()
        run("docker", "image", "rm", "--force", unhealthy, check=False)
