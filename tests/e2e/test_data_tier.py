"""The data tier grants each part what it needs and no more: web's database
role owns its database and nothing else, the superuser is reachable only
inside the db container, and the cache answers only to its password."""

import time

from conftest import Stack, make, run

# Run by web's Python, with web's settings (its role, its password): the first
# line of what the server answered.
PROBE = """
from django.db import connection
try:
    with connection.cursor() as cursor:
        cursor.execute({sql!r})
        print("ok", cursor.fetchone() if cursor.description else "")
except Exception as error:
    print(type(error).__name__, str(error).strip().splitlines()[0])
"""
# A new connection from web to another database, or as another role.
CONNECT = """
import psycopg
from django.db import connection
s = connection.settings_dict
try:
    psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, password=s["PASSWORD"], connect_timeout=5,
                    user={user!r} or s["USER"], dbname={dbname!r}).close()
    print("connected")
except psycopg.OperationalError as error:
    print(" ".join(str(error).split()))
"""


def from_web(stack, code):
    return stack.exec("web", "python", "manage.py", "shell", "-c", code).stdout.strip().splitlines()[-1]


def web_sql(stack, sql):
    return from_web(stack, PROBE.format(sql=sql))


def assert_least_privilege(stack):
    """What web's role can and cannot do, asked as web."""
    flags = "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles"
    flags += " WHERE rolname = current_user"
    assert web_sql(stack, flags) == "ok (False, False, False, False)"
    assert web_sql(stack, "COPY (SELECT 1) TO PROGRAM 'id'").startswith("ProgrammingError permission denied")
    assert web_sql(stack, "SELECT pg_read_file('/etc/passwd')").startswith(
        "ProgrammingError permission denied"
    )
    assert web_sql(stack, "CREATE ROLE intruder LOGIN SUPERUSER").startswith(
        "ProgrammingError permission denied"
    )
    assert web_sql(stack, "CREATE DATABASE elsewhere").startswith("ProgrammingError permission denied")
    refused = from_web(stack, CONNECT.format(user="", dbname="postgres"))
    assert 'permission denied for database "postgres"' in refused
    superuser = from_web(stack, CONNECT.format(user="postgres", dbname="postgres"))
    assert 'password authentication failed for user "postgres"' in superuser
    # ...while it owns every table of its own database (make migrate works).
    assert stack.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") != "0"
    assert (
        stack.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner <> current_user"
        )
        == "0"
    )
    assert stack.psql("SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolsuper") == "postgres"


def test_webs_database_role_owns_its_database_and_nothing_more(stack):
    """Before: web connected as the superuser the postgres image made, so SQL
    injected anywhere could run commands on db (COPY ... TO PROGRAM)."""
    assert_least_privilege(stack)


def test_the_cache_answers_only_to_its_password(stack):
    """Before: anything on the backend network could write to the cache,
    whose pickles web loads. A client there without the password is refused;
    with it (read from the secret file) the same probe gets PONG."""
    password = (stack.secrets_dir / "cache_password").read_text().strip()
    probe = ["docker", "run", "--rm", "--network", f"{stack.project}_backend", "--entrypoint", "valkey-cli"]
    refused = run(*probe, "valkey/valkey:8", "-h", "cache", "ping").stdout.strip()
    assert refused == "NOAUTH Authentication required."
    allowed = run(
        *probe[:-2], "-e", f"REDISCLI_AUTH={password}", *probe[-2:], "valkey/valkey:8", "-h", "cache", "ping"
    )
    assert allowed.stdout.strip() == "PONG"
    assert password not in run("docker", "inspect", *stack.containers("cache")).stdout


def test_a_database_volume_from_before_gets_its_roles_once(image, tmp_path, figures):
    """A volume initialised as before (web's role the superuser, the tables
    its own, data in them): make prod-up refuses it, naming the step;
    make prod-db-roles takes the rights away, the data intact; prod-up then
    works, and a second run of the step changes nothing."""
    stack = Stack(tmp_path, "roles")
    operate = {"ENV_FILE": str(stack.env_file), "COMPOSE_PROJECT_NAME": stack.project}
    volume = f"{stack.project}_pgdata"
    old_db = f"{stack.project}-old-db"
    try:
        # The old db service: POSTGRES_USER=babyshop was the image's superuser.
        run("docker", "volume", "create", "--label", f"com.docker.compose.project={stack.project}",
            "--label", "com.docker.compose.volume=pgdata", volume)  # fmt: skip
        run("docker", "run", "--detach", "--name", old_db, "--volume", f"{volume}:/var/lib/postgresql/data",
            "--volume", f"{stack.secrets_dir / 'postgres_password'}:/run/secrets/postgres_password:ro",
            "--env", "POSTGRES_USER=babyshop", "--env", "POSTGRES_DB=babyshop",
            "--env", "POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password", "postgres:17")  # fmt: skip
        deadline = time.monotonic() + 60
        while "init process complete" not in run("docker", "logs", old_db).stdout:
            assert time.monotonic() < deadline, run("docker", "logs", old_db).stderr
            time.sleep(0.5)
        run("docker", "stop", old_db)
        # web, as it ran then: its entrypoint migrates as that superuser.
        stack.up()
        stack.create_admin()
        rows = "SELECT count(*) FROM django_migrations) || ' ' || (SELECT count(*) FROM users_user"
        data = stack.psql(f"SELECT ({rows})")
        assert data.endswith(" 1"), data
        assert web_sql(stack, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "ok (True,)"

        refused = make("prod-up", env=operate, check=False)
        assert refused.returncode != 0
        assert "web connects to the database as 'babyshop', a superuser" in refused.stderr
        assert "make prod-db-roles" in refused.stderr

        started = time.monotonic()
        done = make("prod-db-roles", env=operate)
        seconds = time.monotonic() - started
        assert (
            done.stdout.strip().splitlines()[-1].startswith("db-roles: web connects as babyshop, the owner")
        )
        assert_least_privilege(stack)
        assert stack.psql(f"SELECT ({rows})") == data, "the data is intact"
        make("prod-up", env=operate)
        stack.wait_for_proxy()
        stack.trust_proxy_ca()
        assert stack.get("/").status_code == 200
        again = make("prod-db-roles", env=operate)
        assert "nothing to do" in again.stdout
        figures.append(f"make prod-db-roles on a volume from before: {seconds:.1f} s, web stopped meanwhile")
    finally:
        run("docker", "rm", "--force", old_db, check=False)
        stack.down()
        run("docker", "volume", "rm", "--force", volume, check=False)
