"""The production stack through its HTTPS proxy, as a browser meets it."""

import json
import socket
import ssl

import pytest

from conftest import PROD_COMPOSE, ROOT, client, csrf_token, inspect, png, run

# What MONITORING=true (on in the shared stack) adds.
MONITORING_SERVICES = ("prometheus", "alertmanager", "db-exporter", "disk-exporter")


def test_http_redirects_to_https(stack):
    response = client().get(
        f"http://127.0.0.1:{stack.http_port}/accounts/login/",
        headers={"Host": "localhost"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code in (301, 308)
    assert response.headers["Location"] == "https://localhost/accounts/login/"


def raw_answer(stack, scheme, host, tls_name="localhost"):
    """All the proxy sends back, until it closes, for a request naming host
    (for /readyz, which the proxy answers itself)."""
    port = stack.https_port if scheme == "https" else stack.http_port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        if scheme == "https":
            unverified = ssl.create_default_context()
            unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
            connection = unverified.wrap_socket(connection, server_hostname=tls_name)
        connection.sendall(f"GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_request_for_another_host_is_refused_unanswered(stack, scheme):
    """Before: 200 with an empty body over HTTPS (a redirect to that host
    over HTTP), and "Server: Caddy" either way. Over HTTPS the TLS name is
    the site's own: an unknown one never gets past the handshake."""
    assert raw_answer(stack, scheme, "localhost").startswith(b"HTTP/1.1 "), "the site itself answers"
    assert raw_answer(stack, scheme, "shop.attacker.example") == b""
    if scheme == "https":
        with pytest.raises(ssl.SSLError):
            raw_answer(stack, scheme, "shop.attacker.example", tls_name="shop.attacker.example")


def test_home_page_over_https_with_security_headers(stack):
    response = stack.get("/")
    assert response.status_code == 200
    headers = response.headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Server" not in headers
    assert headers["Content-Encoding"] in ("gzip", "zstd"), "the proxy compresses pages"


def test_login_with_csrf_over_https(stack):
    stack.exec(
        "web", "python", "manage.py", "shell", "-c",
        "from users.models import User; User.objects.create_user('shopper', password='Shopper-passw0rd-e2e')",
    )  # fmt: skip
    browser = client(verify=stack.http.verify)
    form = browser.get(stack.url + "/accounts/login/")
    cookie = next(c for c in browser.cookies if c.name == "__Host-csrftoken")
    assert cookie.secure
    login = {
        "csrfmiddlewaretoken": csrf_token(form),
        "username": "shopper",
        "password": "Shopper-passw0rd-e2e",
    }
    refused = browser.post(stack.url + "/accounts/login/", data={**login, "csrfmiddlewaretoken": "x" * 64})
    assert refused.status_code == 403
    response = browser.post(
        stack.url + "/accounts/login/", data=login, headers={"Referer": stack.url + "/accounts/login/"}
    )
    assert response.status_code == 200
    assert "Signed in as <strong>shopper</strong>" in response.text
    session = next(c for c in browser.cookies if c.name == "__Host-sessionid")
    assert session.secure
    assert session.value not in stack.logs(), "session cookies are not logged"


def test_an_upload_is_served_back_byte_identical(stack):
    picture = png(64, 48, (250, 128, 114))
    served = stack.get(stack.place_upload("uploads/teether.png", picture))
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.content == picture


def test_only_the_proxy_is_published():
    rendered = run(
        "docker", "compose", "-f", str(PROD_COMPOSE), "config", "--format", "json", "--no-interpolate",
        cwd=ROOT, env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
    ).stdout  # fmt: skip
    services = json.loads(rendered)["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["db"]["networks"].keys() == {"backend"}
    assert services["proxy"]["networks"].keys() == {"edge", "front"}
    assert services["web"]["networks"].keys() == {"front", "backend"}
    # The worker reaches the SMTP server, outside: the only way out besides the proxy's.
    assert services["worker"]["networks"].keys() == {"backend", "egress"}
    networks = json.loads(rendered)["networks"]
    assert networks["backend"]["internal"] is True
    assert networks["front"]["internal"] is True


def test_web_and_db_are_not_reachable_from_the_host(stack):
    for service in ("web", "worker", "db"):
        for container in stack.containers(service):
            assert run("docker", "port", container).stdout.strip() == "", f"{service} publishes a port"


@pytest.mark.parametrize(
    ("service", "limits"), [("web", (512 * 2**20, 256, 10**9)), ("worker", (256 * 2**20, 64, 5 * 10**8))]
)
def test_the_app_containers_are_hardened(stack, service, limits):
    for container in stack.containers(service):
        host = json.loads(inspect(container, "{{json .HostConfig}}"))
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Init"] is True
        assert (host["Memory"], host["PidsLimit"], host["NanoCpus"]) == limits
        assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "5", "max-size": "10m"}}
    denied = stack.exec(service, "touch", "/app/written", check=False)
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr
    assert stack.exec(service, "id", "-u").stdout.strip() == "10001"


def test_the_proxy_container_is_hardened(stack):
    """Before: the internet-facing container was root with every default
    capability, a writable root filesystem and no limits."""
    (container,) = stack.containers("proxy")
    host = json.loads(inspect(container, "{{json .HostConfig}}"))
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert [cap.removeprefix("CAP_") for cap in host["CapAdd"]] == ["NET_BIND_SERVICE"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (2**30, 10**9, 256)
    status = stack.exec("proxy", "grep", "-E", "^Cap(Eff|Prm):", "/proc/1/status").stdout.split()
    assert status == ["CapPrm:", "0000000000000400", "CapEff:", "0000000000000400"], "only NET_BIND_SERVICE"
    denied = stack.exec("proxy", "touch", "/srv/written", check=False)
    assert "Read-only file system" in denied.stderr


def test_web_has_no_route_out_of_the_machine(stack):
    """Before: web sat on the proxy's network, which routes to the internet.
    Now it is only on internal networks: no route at all (ENETUNREACH at
    once), whatever this machine's own egress."""
    probe = (
        "import errno, socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 443), timeout=5)\n"
        "except OSError as error:\n"
        "    print(errno.errorcode.get(error.errno, error))\n"
    )
    assert stack.exec("web", "python", "-c", probe).stdout.strip() == "ENETUNREACH"


def test_no_secret_in_inspect_history_or_logs(stack, image):
    secrets = stack.secrets()
    assert len(secrets) == 3
    assert all(len(secret) >= 50 for secret in secrets)
    services = ("proxy", "web", "worker", "db", "cache", *MONITORING_SERVICES)
    containers = [c for service in services for c in stack.containers(service)]
    assert len(containers) == len(services) + 1  # (two web containers)
    inspected = run("docker", "inspect", *containers).stdout
    history = run("docker", "history", "--no-trunc", image).stdout
    logs = stack.logs()
    for secret in secrets:
        for where, text in (("docker inspect", inspected), ("docker history", history), ("logs", logs)):
            assert secret not in text, f"a secret shows in {where}"
    environment = json.loads(inspect(stack.containers("web")[0], "{{json .Config.Env}}"))
    assert "SECRET_KEY_FILE=/run/secrets/secret_key" in environment
    assert not any(variable.startswith(("SECRET_KEY=", "DATABASE_PASSWORD=")) for variable in environment)


def test_check_deploy_reports_no_issues(stack):
    result = stack.exec("web", "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert "System check identified no issues" in result.stdout
