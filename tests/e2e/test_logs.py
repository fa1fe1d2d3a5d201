"""The production logs as an operator reads them: one JSON object per line
from web and the worker, and one request followed by its id through the
proxy's log, web's and the worker's (docs/operations.md)."""

import json
import re

from test_mail import ask_for_a_reset, new_user

from conftest import anonymous, wait_until


def json_lines(text):
    """Each line of a service's log, parsed: fails on any that is not JSON."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not one JSON object: {line!r}") from None
    return lines


def test_one_request_is_followed_by_its_id_through_proxy_web_and_worker(stack, catcher):
    """A password-reset request: the proxy gives it an id, web logs it and
    returns it, the task it queued, and the mail task that one queued, carry
    it into the worker's lines.
    The reset link's token is in no log, the user's address in neither
    web's nor the worker's."""
    _, address = new_user(stack)
    asked = ask_for_a_reset(stack, address)
    rid = asked.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f-]{36}", rid), "the proxy's id (a UUID), not one web made"
    message = catcher.wait_for(address)
    link = re.search(r"https://localhost:\d+(/accounts/password-reset/\S+/)", message["text"]).group(1)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert anonymous(stack).get(stack.url + link, timeout=10).status_code == 200

    def written():  # (web and the worker write their lines up to 50 ms late: babyshop/logs.py)
        return [entry for name in ("web", "worker") for entry in json_lines(stack.logs(name))
                if entry.get("request_id") == rid]  # fmt: skip

    wait_until(lambda: len(written()) == 5, "web's line of the request and the worker's two of each task",
               10, written)  # fmt: skip
    proxy = [line for line in stack.logs("proxy").splitlines() if line.startswith("{")]
    web, worker = json_lines(stack.logs("web")), json_lines(stack.logs("worker"))
    assert [
        entry["request"]["method"] for entry in map(json.loads, proxy) if entry.get("request_id") == rid
    ] == ["POST"]
    (line,) = [entry for entry in web if entry.get("request_id") == rid]
    assert (line["method"], line["path"], line["status"], line["view"]) == (
        "POST",
        "/accounts/password-reset/",
        302,
        "password_reset",
    )
    ran = [entry["message"].split()[2:] for entry in worker if entry.get("request_id") == rid]
    assert ran == [
        ["path=users.views.send_password_reset", "state=RUNNING"],
        ["path=users.views.send_password_reset", "state=SUCCESSFUL"],
        ["path=babyshop.mail.send_email", "state=RUNNING"],
        ["path=babyshop.mail.send_email", "state=SUCCESSFUL"],
    ]
    for service, text in {
        "proxy": "\n".join(proxy),
        "web": json.dumps(web),
        "worker": json.dumps(worker),
    }.items():
        assert token not in text, f"the reset token is in {service}'s log"
        if service != "proxy":
            assert address not in text, f"the user's address is in {service}'s log"
