"""The first admin of a production stack: make prod-superuser."""

import os
import subprocess

from conftest import ROOT, client, csrf_token, run

PASSWORD = "first-admin-Passw0rd-for-the-tests"


def prod_superuser(stack, **variables):
    """make prod-superuser with no terminal on its standard input."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_SUPERUSER_")}
    env.update(ENV_FILE=str(stack.env_file), COMPOSE_PROJECT_NAME=stack.project, **variables)
    target = ["make", "--no-print-directory", "prod-superuser"]
    return run(*target, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False)


def test_an_admin_from_the_environment_can_log_in(stack):
    """No terminal (as under CI, or ssh without -t): the account comes from
    the environment, never from the command line, and can log in."""
    result = prod_superuser(
        stack,
        DJANGO_SUPERUSER_USERNAME="first",
        DJANGO_SUPERUSER_EMAIL="first@example.com",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    assert "Superuser created successfully." in result.stdout
    browser = client(verify=stack.http.verify)
    form = browser.get(stack.url + "/admin/login/", timeout=10)
    answer = browser.post(
        stack.url + "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf_token(form), "username": "first", "password": PASSWORD},
        headers={"Referer": stack.url + "/admin/login/"},
        timeout=10,
    )
    assert "Site administration" in answer.text


def test_without_a_terminal_or_a_password_it_says_what_to_set(stack):
    result = prod_superuser(stack)
    assert result.returncode != 0
    assert "prod-superuser: no terminal to ask on: set DJANGO_SUPERUSER_USERNAME" in result.stderr
