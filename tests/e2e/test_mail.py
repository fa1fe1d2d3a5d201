"""Mail through the worker, as a user and an operator meet it: a password
reset over HTTPS reaches a real SMTP server; an SMTP server that is down, a
worker killed mid-task or stopped for a deploy delays mail and never loses it
or sends it twice; an address no SMTP server can take fails at once."""

import re
import threading
import uuid

from conftest import anonymous, csrf_token, inspect, wait_until

PASSWORD = "e2e-Reset-passw0rd-not-secret"
TASKS = "django_tasks_database_dbtaskresult"
# A reset request queues RESET, which the worker runs to queue the MAIL.
MAIL, RESET = "babyshop.mail.send_email", "users.views.send_password_reset"


def new_user(stack):
    """A user of the shop (never the admin the other tests log in as); their address."""
    name = f"reset{uuid.uuid4().hex[:8]}"
    create = f"from django.contrib.auth import get_user_model as m; m().objects.create_user({name!r}, '{name}@example.com', {PASSWORD!r})"
    stack.exec("web", "python", "manage.py", "shell", "-c", create)
    return name, f"{name}@example.com"


def ask_for_a_reset(stack, address):
    """Post the password-reset form for address, as a visitor does; its answer
    (the redirect, whose page is checked too)."""
    visitor = anonymous(stack)
    page = stack.url + "/accounts/password-reset/"
    form = visitor.get(page, timeout=10)
    answer = visitor.post(
        page,
        data={"csrfmiddlewaretoken": csrf_token(form), "email": address},
        headers={"Referer": page},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302
    sent = visitor.get(stack.url + answer.headers["Location"], timeout=10)
    assert sent.status_code == 200
    assert "Check your mail" in sent.text
    return answer


def of_task(text, path=MAIL):
    """The FROM and WHERE of the task of path whose first argument holds text:
    a mail's message (in base64) or the address a reset was asked for."""
    argument = "args_kwargs->'args'->>0"
    if path == MAIL:
        argument = f"convert_from(decode({argument}, 'base64'), 'UTF8')"
    # (The test's own text: nothing to inject. CASE: only a mail's argument is decoded.)
    return f"FROM {TASKS} WHERE CASE WHEN task_path = '{path}' THEN {argument} LIKE '%{text}%' END"


def task_of(stack, address, path=MAIL):
    """(status, attempts) of the task queued for address; (None, 0) while there is none."""
    row = stack.psql(f"SELECT status, jsonb_array_length(worker_ids) {of_task(address, path)}")
    if not row:
        return None, 0
    status, attempts = row.split("|")
    return status, int(attempts)


def worker_mid_task(stack):
    """A worker holds a task's transaction open (it is waiting on SMTP)."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"
    return stack.psql(query, user="postgres") == "1"


def test_a_password_reset_arrives_by_mail_and_its_link_works_through_the_proxy(stack, catcher):
    name, address = new_user(stack)
    ask_for_a_reset(stack, address)
    message = catcher.wait_for(address)
    assert message["subject"] == "Reset your babyshop password"
    assert message["html"], "an HTML part beside the text"
    link = re.search(rf"https://localhost:{stack.https_port}(/accounts/password-reset/\S+/)", message["text"])
    assert link, message["text"]

    visitor = anonymous(stack)
    form = visitor.get(stack.url + link.group(1), timeout=10)
    assert "Choose a new password" in form.text
    new_password = PASSWORD + "-2"
    done = visitor.post(
        form.url,
        data={
            "csrfmiddlewaretoken": csrf_token(form),
            "new_password1": new_password,
            "new_password2": new_password,
        },
        headers={"Referer": form.url},
        timeout=10,
    )
    assert "Password changed" in done.text
    login = stack.url + "/accounts/login/"
    page = visitor.get(login, timeout=10)
    logged_in = visitor.post(
        login,
        data={"csrfmiddlewaretoken": csrf_token(page), "username": name, "password": new_password},
        headers={"Referer": login},
        timeout=10,
    )
    assert f"Signed in as <strong>{name}</strong>" in logged_in.text
    assert task_of(stack, address) == ("SUCCESSFUL", 1)


def test_mail_waits_while_the_smtp_server_is_down(stack, catcher):
    _, address = new_user(stack)
    catcher.docker("stop")
    try:
        ask_for_a_reset(stack, address)  # the page does not wait for SMTP
        wait_until(lambda: task_of(stack, address)[1] >= 2, "two failed attempts to send", timeout=60)
        assert task_of(stack, address)[0] == "READY", "kept for later"
    finally:
        catcher.docker("start")
    catcher.wait_for(address, timeout=90)
    assert len(catcher.messages(address)) == 1


def test_a_worker_killed_mid_task_sends_the_mail_once(stack, catcher):
    """SIGKILL while the worker waits on the SMTP server: its transaction is
    rolled back, the task is waiting again, and the restarted worker sends it."""
    _, address = new_user(stack)
    (worker,) = stack.containers("worker")
    restarts = int(inspect(worker, "{{.RestartCount}}"))
    catcher.docker("pause")  # accepts connections, never answers
    try:
        ask_for_a_reset(stack, address)
        wait_until(lambda: worker_mid_task(stack), "the worker to be mid-task", timeout=30)
        stack.exec("worker", "sh", "-c", "kill -KILL -1", check=False)
        wait_until(lambda: int(inspect(worker, "{{.RestartCount}}")) > restarts, "the worker to restart")
    finally:
        catcher.docker("unpause")
    catcher.wait_for(address)
    wait_until(lambda: task_of(stack, address)[0] == "SUCCESSFUL", "the task to be done")
    assert len(catcher.messages(address)) == 1
    assert task_of(stack, address) == ("SUCCESSFUL", 1), "the killed attempt left no trace"


def test_a_stopped_worker_finishes_its_task_and_the_next_one_runs_what_waited(stack, catcher):
    """docker stop (a deploy) while the worker waits on SMTP: it finishes
    that mail and exits cleanly; mail queued while no worker runs is sent
    when one is back."""
    _, first = new_user(stack)
    _, second = new_user(stack)
    (worker,) = stack.containers("worker")
    catcher.docker("pause")
    try:
        ask_for_a_reset(stack, first)
        wait_until(lambda: worker_mid_task(stack), "the worker to be mid-task", timeout=30)
        stopping = threading.Thread(target=stack.compose, args=("stop", "worker"))
        stopping.start()
        wait_until(
            lambda: "stopping after the running task" in stack.logs("worker"), "the worker to get SIGTERM"
        )
    finally:
        catcher.docker("unpause")
    stopping.join(60)
    assert inspect(worker, "{{.State.ExitCode}}") == "0", "it exited by itself, not by SIGKILL"
    assert len(catcher.messages(first)) == 1
    ask_for_a_reset(stack, second)
    assert task_of(stack, second, RESET) == ("READY", 0)
    stack.compose("start", "worker")
    catcher.wait_for(second)
    assert [len(catcher.messages(address)) for address in (first, second)] == [1, 1]


def test_a_mail_to_an_address_the_mailer_refuses_fails_at_once(stack, catcher):
    """A control character in an address: Django's SMTP mailer refuses it
    before sending (ValueError "Invalid address ... ASCII non-printables"),
    which no retry can mend, so the task is kept as failed after its first
    attempt instead of being tried for hours."""
    subject = f"undeliverable {uuid.uuid4().hex[:8]}"
    address = r'"a\x01b"@example.com'  # (the shell's Python reads \x01 as the control character)
    send = f"from django.core.mail import send_mail; send_mail({subject!r}, 'Hello.', None, ['{address}'])"
    stack.exec("web", "python", "manage.py", "shell", "-c", send)
    wait_until(lambda: task_of(stack, subject)[1] >= 1, "the worker's attempt to send")
    assert task_of(stack, subject) == ("FAILED", 1)
    failed = stack.psql(f"SELECT exception_class_path, traceback {of_task(subject)}")
    assert failed.startswith("builtins.ValueError|"), failed
    assert "ASCII non-printables" in failed
