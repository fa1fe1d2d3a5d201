"""Monitoring (docker-compose.monitoring.yml, docs/monitoring.md): on the
shared stack, Prometheus scrapes every part of it, web's figures are the sum
of all its processes, and no metric is reachable from outside; on a stack of
its own, web stops and the site-down alert is mailed, then its resolution."""

import json
import time

import pytest
import requests

from conftest import MailCatcher, Stack, inspect, make, prod_up_refusal, run, wait_until

# What the shared stack runs: two web containers of two gunicorn workers each.
EXPECTED_TARGETS = {
    "web": 2, "worker": 1, "proxy": 1, "db": 1, "disk": 1, "alertmanager": 1, "prometheus": 1,
}  # fmt: skip
METRICS_OF = (
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9100/metrics').read().decode())"
)


def prometheus(stack, path, **params):
    url = f"http://127.0.0.1:{stack.prometheus_port}/api/v1/{path}"
    response = requests.get(url, params=params, timeout=10)
    response.raise_for_status()
    return response.json()["data"]


def query(stack, expression):
    """The value of an expression with one result (None: no result)."""
    result = prometheus(stack, "query", query=expression)["result"]
    return float(result[0]["value"][1]) if result else None


def own_metrics(container):
    """What one container serves on its metrics port, read from inside it."""
    return run("docker", "exec", container, "python", "-c", METRICS_OF).stdout


def requests_counted(stack, view, status):
    """The sum, over every web container, of requests web counted for this view and status."""
    total = 0.0
    for container in stack.containers("web"):
        for line in own_metrics(container).splitlines():
            labels = f'{{method="GET",status="{status}",view="{view}"}}'
            if line.startswith(f"babyshop_http_requests_total{labels} "):
                total += float(line.rsplit(" ", 1)[1])
    return total


def test_prometheus_scrapes_every_part_of_the_stack(stack):
    def healthy():
        targets = prometheus(stack, "targets", state="active")["activeTargets"]
        up = {}
        for target in targets:
            if target["health"] == "up":
                up[target["labels"]["job"]] = up.get(target["labels"]["job"], 0) + 1
        return up == EXPECTED_TARGETS

    wait_until(
        healthy,
        "every target scraped and up",
        timeout=90,
        detail=lambda: json.dumps(prometheus(stack, "targets", state="active"), indent=1)[-3000:],
    )
    assert query(stack, "pg_up") == 1
    assert query(stack, "sum(caddy_http_requests_total)") > 0
    assert query(stack, 'sum(babyshop_tasks_waiting{queue="email"})') is not None
    assert (
        0
        < query(stack, 'babyshop_volume_free_bytes{volume="pgdata"}')
        <= query(stack, 'babyshop_volume_size_bytes{volume="pgdata"}')
    )
    flags = prometheus(stack, "status/flags")
    retention = (flags["storage.tsdb.retention.time"], flags["storage.tsdb.retention.size"])
    assert retention == ("15d", "1GiB")  # (1GB to Prometheus: its units are powers of 2)


def test_web_counts_the_requests_of_all_its_processes(stack):
    """30 requests through the proxy, spread over 2 containers x 2 gunicorn
    workers: each container's metrics address answers for all of its
    processes, and Prometheus sums the containers."""
    before = requests_counted(stack, "logout", "405")
    for _ in range(30):
        assert stack.get("/accounts/logout/").status_code == 405  # (GET: a view nobody else calls so)
    wait_until(
        lambda: requests_counted(stack, "logout", "405") == before + 30,
        "each container's count",
        timeout=15,
        detail=lambda: str(requests_counted(stack, "logout", "405")),
    )
    expression = 'sum(babyshop_http_requests_total{view="logout",status="405"})'
    wait_until(
        lambda: query(stack, expression) == before + 30,
        "Prometheus's sum to catch up",
        timeout=60,
        detail=lambda: str(query(stack, expression)),
    )


def test_no_metric_is_reachable_from_outside(stack):
    assert stack.get("/metrics").status_code == 404
    # Only the proxy's ports and Prometheus's (on loopback) are published.
    published = stack.compose("ps", "--format", "{{.Service}} {{.Ports}}").stdout
    for line in published.splitlines():
        service, _, ports = line.partition(" ")
        if service not in ("proxy", "prometheus"):
            assert "->" not in ports, line
        assert "9100" not in ports, line
        assert "9180" not in ports, line
    assert f"127.0.0.1:{stack.prometheus_port}->9090" in published


def test_the_site_down_alert_is_mailed_and_so_is_its_end(image, tmp_path, figures):
    settings = {
        "MONITORING": "true", "ALERT_EMAIL": "ops@example.com", "ALERT_GROUP_INTERVAL": "10s",
        "SMTP_HOST": "mailcatcher", "SMTP_PORT": "1025", "SMTP_SECURITY": "NONE",
    }  # fmt: skip
    with Stack(tmp_path, "alerts", **settings) as stack:
        stack.up()
        with MailCatcher(stack) as catcher:  # (on the stack's egress network, there once it is up)
            site_down_is_mailed(stack, catcher, figures)


def test_prod_up_on_a_running_stack_starts_what_monitoring_adds(image, tmp_path):
    """An update (make prod-up on a running stack) starts the services the
    monitoring files add, after the proxy: those stopped run again."""
    settings = {"MONITORING": "true", "ALERT_EMAIL": "ops@example.com", "SMTP_HOST": "mailcatcher"}
    with Stack(tmp_path, "update", **settings) as stack:
        stack.up()
        stack.compose("stop", "alertmanager", "db-exporter")
        make("prod-up", env={"ENV_FILE": str(stack.env_file), "COMPOSE_PROJECT_NAME": stack.project})
        running = stack.compose("ps", "--status", "running", "--services").stdout.split()
        assert {"prometheus", "alertmanager", "db-exporter", "disk-exporter"} <= set(running), running


def site_down_is_mailed(stack, catcher, figures):
    wait_until(lambda: query(stack, 'count(up{job="web"} == 1)') == 2, "web scraped", timeout=90)
    stopped = time.monotonic()
    stack.compose("stop", "web")
    fired = catcher.wait_for("ops@example.com", timeout=300)
    fired_after = time.monotonic() - stopped
    assert "[FIRING:1] SiteDown" in fired["subject"], fired["subject"]
    assert "The site is down: no web container answers" in fired["html"]
    started = time.monotonic()
    stack.compose("start", "web")
    wait_until(lambda: len(catcher.messages("ops@example.com")) >= 2, "the resolved mail", timeout=240)
    resolved = catcher.messages("ops@example.com")[1]
    assert "[RESOLVED] SiteDown" in resolved["subject"], resolved["subject"]
    figures.append(
        f"alerts: web stopped -> {fired['subject']!r} mailed after {fired_after:.0f}s; "
        f"started -> {resolved['subject']!r} after {time.monotonic() - started:.0f}s"
    )


def test_the_monitoring_containers_are_hardened(stack):
    """Nothing changes outside their volumes, no capability, no root, bounded."""
    for service in ("prometheus", "alertmanager", "db-exporter", "disk-exporter"):
        (container,) = stack.containers(service)
        host = json.loads(inspect(container, "{{json .HostConfig}}"))
        assert host["ReadonlyRootfs"] is True, service
        assert host["CapDrop"] == ["ALL"], service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert min(host["Memory"], host["PidsLimit"]) > 0, service
        assert run("docker", "exec", container, "id", "-u").stdout.strip() not in ("", "0"), service


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("ALERT_EMAIL=ops@example.com\n", "needs SMTP_HOST: alerts are mailed through the shop's SMTP"),
        ("SMTP_HOST=smtp.example.com\n", "needs ALERT_EMAIL: expected the address alerts are mailed to"),
    ],
)  # fmt: skip
def test_monitoring_without_a_way_to_send_alerts_stops_before_anything_starts(tmp_path, settings, message):
    line = prod_up_refusal(tmp_path, f"MONITORING=true\n{settings}")
    assert line.startswith(f"prod-up: MONITORING=true {message}")
