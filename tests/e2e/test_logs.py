"""The production logs as an operator reads them: one JSON object per line
from web and the worker, and one request followed by its id through the
proxy's log, web's and the worker's (docs/operations.md)."""

import ipaddress
import json
import re

from test_mail import ask_for_a_reset, new_user

from conftest import anonymous, wait_until

# The proxy's access log, in its proxy_logs volume (the Caddyfile).
ACCESS_LOG = "/logs/access.log"
# The most an access line of an ordinary request may take: the Caddyfile's
# roll settings keep a week of such lines at 10 requests a second.
LINE_BOUND = 400


def json_lines(text):
    """Each line of a service's log, parsed: fails on any that is not JSON."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not one JSON object: {line!r}") from None
    return lines


def access_lines(stack, request_id):
    """The proxy's access-log lines of one request, as written."""
    return stack.exec("proxy", "grep", "-F", request_id, ACCESS_LOG, check=False).stdout.splitlines()


def test_the_proxy_logs_a_request_in_one_slim_line_and_keeps_a_week(stack, figures):
    """Before: about 1.8 KB a line (every request and response header, TLS
    details) on the proxy's output, of which Docker kept 5 x 10 MB, some
    24,000 requests; a new proxy container started with none. Now: a line
    of what finds and judges a request, in a file of its volume that Caddy
    rolls, holding at least 7 days at 10 requests a second."""
    link = "/accounts/password-reset/MQ/cv0q7b-0123456789abcdef0123456789abcdef/"
    padding = {"User-Agent": "a-scanner/1.0 " + "x" * 300, "Cookie": "tracking=" + "y" * 300}
    answer = anonymous(stack).get(stack.url + link, headers=padding, timeout=10)
    (line,) = access_lines(stack, answer.headers["X-Request-ID"])
    entry = json.loads(line)
    assert entry.keys() == {"ts", "request_id", "request", "status", "duration", "size"}
    request = entry["request"]
    assert request.keys() == {"client_ip", "method", "host", "uri"}
    ipaddress.ip_address(request["client_ip"])
    assert (request["method"], request["host"], request["uri"], entry["status"]) == (
        "GET", f"localhost:{stack.https_port}", "/accounts/password-reset/[secret]/", answer.status_code
    )  # fmt: skip
    assert len(line) <= LINE_BOUND, line
    figures.append(f"proxy access log: {len(line.encode()) + 1} bytes for {request['uri']}")
    adapted = json.loads(stack.exec("proxy", "caddy", "adapt", "--config", "/etc/caddy/Caddyfile").stdout)
    (writer,) = [log["writer"] for log in adapted["logging"]["logs"].values() if "writer" in log]
    assert (writer["output"], writer["filename"]) == ("file", ACCESS_LOG)
    assert writer.get("roll_gzip", True), "rolled files are compressed"
    lines_kept = (writer["roll_keep"] + 1) * writer["roll_size_mb"] * 2**20 // LINE_BOUND
    assert lines_kept >= 7 * 86400 * 10, f"{lines_kept} lines: under a week at 10 requests a second"
    assert writer["roll_keep_days"] >= 7


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

    def written():  # (the worker writes its lines once it has run the tasks)
        return [entry for name in ("web", "worker") for entry in json_lines(stack.logs(name))
                if entry.get("request_id") == rid]  # fmt: skip

    wait_until(lambda: len(written()) == 5, "web's line of the request and the worker's two of each task",
               10, written)  # fmt: skip
    proxy = access_lines(stack, rid)
    web, worker = json_lines(stack.logs("web")), json_lines(stack.logs("worker"))
    assert [entry["request"]["method"] for entry in json_lines("\n".join(proxy))] == ["POST"]
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
