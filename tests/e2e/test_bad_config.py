"""Every bad setting stops the web container with one clear line.

Each case runs the production web container (default command, production
settings, the stack's secrets) as a one-off: it must exit non-zero, name the
variable and what is expected on its last line, show no traceback and print
no secret.
"""

import os
import subprocess

import pytest

from conftest import ROOT, Stack

WRONG_PASSWORD = "wrong-password-but-not-printed"
SHORT_KEY = "short-key-not-printed"

CASES = {
    "missing SECRET_KEY": ({"SECRET_KEY_FILE": ""}, "SECRET_KEY is not set: set SECRET_KEY_FILE"),
    "placeholder SECRET_KEY": (
        {"SECRET_KEY_FILE": "", "SECRET_KEY": "change-me"},
        "SECRET_KEY is a placeholder",
    ),
    "short SECRET_KEY": ({"SECRET_KEY_FILE": "", "SECRET_KEY": SHORT_KEY}, "SECRET_KEY is too short"),
    "SECRET_KEY and SECRET_KEY_FILE": (
        {"SECRET_KEY": "x" * 60},
        "both SECRET_KEY and SECRET_KEY_FILE are set: set only one of them",
    ),
    "missing secret file": (
        {"SECRET_KEY_FILE": "/run/secrets/nope"},
        "SECRET_KEY_FILE='/run/secrets/nope': no such file",
    ),
    "empty secret file": ({"SECRET_KEY_FILE": "/dev/null"}, "SECRET_KEY_FILE='/dev/null' is empty"),
    "unreadable secret file": (
        {"DATABASE_PASSWORD_FILE": "/etc/shadow"},
        "DATABASE_PASSWORD_FILE='/etc/shadow' cannot be read by uid 10001",
    ),
    "DEBUG not a boolean": ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
    "malformed DATABASE_URL": (
        {"DATABASE_URL": "postgres://babyshop:hunter2@db:port/babyshop"},
        "DATABASE_URL is malformed: expected postgres://USER:PASSWORD@HOST:PORT/NAME",
    ),
    "DATABASE_URL not PostgreSQL": (
        {"DATABASE_URL": "mysql://babyshop@db/babyshop"},
        "DATABASE_URL has scheme 'mysql'",
    ),
    "wrong database password": (
        {"DATABASE_PASSWORD_FILE": "", "DATABASE_PASSWORD": WRONG_PASSWORD},
        "password authentication failed: check the database password",
    ),
    "database host unreachable": (
        {"DATABASE_URL": "postgres://babyshop@db-gone:5432/babyshop", "DB_WAIT_TIMEOUT": "3"},
        "database db-gone:5432/babyshop not ready after 3s",
    ),
    "empty ALLOWED_HOSTS": (
        {"SITE_DOMAIN": "", "ALLOWED_HOSTS": ""},
        "ALLOWED_HOSTS is empty and SITE_DOMAIN is not set",
    ),
    "SITE_DOMAIN with a scheme": (
        {"SITE_DOMAIN": "https://shop.example.com/"},
        "SITE_DOMAIN='https://shop.example.com/' is not a host name",
    ),
    "CSRF origin without scheme": (
        {"CSRF_TRUSTED_ORIGINS": "shop.example.com"},
        "CSRF_TRUSTED_ORIGINS has 'shop.example.com': each origin needs its scheme",
    ),
    "DB_WAIT_TIMEOUT not a number": ({"DB_WAIT_TIMEOUT": "soon"}, "DB_WAIT_TIMEOUT='soon' is not valid"),
    "MIGRATE_ON_START not a boolean": (
        {"MIGRATE_ON_START": "sure"},
        "MIGRATE_ON_START='sure' is not a boolean",
    ),
    "WEB_CONCURRENCY not a number": ({"WEB_CONCURRENCY": "lots"}, "WEB_CONCURRENCY='lots' is not valid"),
    "HSTS_SECONDS negative": ({"HSTS_SECONDS": "-1"}, "HSTS_SECONDS='-1' is not valid"),
    "body limit under the upload limit": (
        {"MAX_REQUEST_BODY": "1048576"},
        "MAX_REQUEST_BODY=1048576 is not above MAX_UPLOAD_SIZE=10485760",
    ),
    "FORWARDED_ALLOW_IPS not addresses": (
        {"FORWARDED_ALLOW_IPS": "proxy"},
        "FORWARDED_ALLOW_IPS='proxy' is not valid: expected * or comma-separated IP addresses",
    ),
}


@pytest.fixture(scope="module")
def broken(image, tmp_path_factory):
    """A stack whose database runs; each case starts its own web container."""
    with Stack(tmp_path_factory.mktemp("broken"), "broken") as stack:
        stack.up("db")
        yield stack


@pytest.mark.parametrize("case", CASES)
def test_bad_setting_stops_the_web_container_with_one_line(broken, case):
    settings, message = CASES[case]
    overrides = [arg for name, value in settings.items() for arg in ("-e", f"{name}={value}")]
    result = broken.compose("--progress", "quiet", "run", "--rm", "--no-deps", *overrides, "web", check=False)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0, output
    assert message in output.splitlines()[-1], output
    assert "Traceback" not in output
    for secret in [*broken.secrets(), WRONG_PASSWORD, SHORT_KEY, "hunter2"]:
        assert secret not in output


def test_make_prod_up_stops_on_a_bad_setting_without_a_restart_loop(broken):
    bad_env = broken.dir / "bad.env"
    bad_env.write_text(broken.env_file.read_text() + "DEBUG=maybe\n")
    result = subprocess.run(
        ["make", "prod-up", f"ENV_FILE={bad_env}"],
        cwd=ROOT,
        env={**os.environ, "COMPOSE_PROJECT_NAME": broken.project},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "configuration error: DEBUG='maybe' is not a boolean" in result.stderr
    # Nothing was left restarting: only web's dependencies run.
    assert sorted(broken.compose("ps", "--services", "--status", "running").stdout.split()) == ["db"]
    assert broken.compose("ps", "--services", "--status", "restarting").stdout.split() == []
