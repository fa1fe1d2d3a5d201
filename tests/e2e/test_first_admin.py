"""The first admin of a production stack: make prod-superuser."""

import os
import select
import subprocess
import time

from conftest import ROOT, client, csrf_token, run

PASSWORD = "first-admin-Passw0rd-for-the-tests"


def prod_superuser(stack, **variables):
    """make prod-superuser with no terminal on its standard input."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_SUPERUSER_")}
    env.update(ENV_FILE=str(stack.env_file), COMPOSE_PROJECT_NAME=stack.project, **variables)
    target = ["make", "--no-print-directory", "prod-superuser"]
    return run(*target, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False)


def on_a_terminal(command, env, answers, timeout=120):
    """(exit code, output) of command run on a pseudo-terminal, typing each
    (prompt, answer)'s answer once its prompt shows."""
    terminal, its_end = os.openpty()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=its_end, stdout=its_end, stderr=its_end)
    os.close(its_end)
    output, seen, pending = b"", 0, list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([terminal], [], [], 1)[0]:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        while pending and (found := output.find(pending[0][0].encode(), seen)) >= 0:
            seen = found + len(pending[0][0])
            os.write(terminal, pending.pop(0)[1].encode() + b"\r")
    else:
        process.kill()
    os.close(terminal)
    return process.wait(), output.decode(errors="replace")


def log_in_to_the_admin(stack, username):
    browser = client(verify=stack.http.verify)
    form = browser.get(stack.url + "/admin/login/", timeout=10)
    answer = browser.post(
        stack.url + "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf_token(form), "username": username, "password": PASSWORD},
        headers={"Referer": stack.url + "/admin/login/"},
        timeout=10,
    )
    return answer.text


def test_on_a_terminal_it_asks_and_the_admin_can_log_in(stack):
    """A terminal (a shell on the VM, ssh -t): Django's own questions, as in
    development; the password is never echoed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_SUPERUSER_")}
    env.update(ENV_FILE=str(stack.env_file), COMPOSE_PROJECT_NAME=stack.project)
    answers = [("Username", "asked"), ("Email address:", "asked@example.com"),
               ("Password:", PASSWORD), ("Password (again):", PASSWORD)]  # fmt: skip
    code, output = on_a_terminal(["make", "--no-print-directory", "prod-superuser"], env, answers)
    assert code == 0, output
    assert "Superuser created successfully." in output
    assert PASSWORD not in output
    assert "Site administration" in log_in_to_the_admin(stack, "asked")


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
    assert "Site administration" in log_in_to_the_admin(stack, "first")


def test_without_a_terminal_or_a_password_it_says_what_to_set(stack):
    result = prod_superuser(stack)
    assert result.returncode != 0
    assert "prod-superuser: no terminal to ask on: set DJANGO_SUPERUSER_USERNAME" in result.stderr
