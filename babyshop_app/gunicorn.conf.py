"""gunicorn settings. The values come from the Django settings, which read and
check the environment (see .env.example): one place, one error format."""

import os

from gunicorn.glogging import Logger

from babyshop.config import reported
from babyshop.logs import JsonFormatter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "babyshop.settings")

with reported():
    from django.conf import settings

    server = settings.GUNICORN

bind = f"0.0.0.0:{server['port']}"
# Containers often see every host CPU, so the count is explicit, not derived.
workers = server["workers"]
threads = server["threads"]
worker_class = "gthread"
timeout = server["timeout"]
# On SIGTERM workers get this long to finish in-flight requests; keep Compose's
# stop_grace_period above it.
graceful_timeout = server["graceful_timeout"]
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow for ever.
max_requests = server["max_requests"]
max_requests_jitter = max_requests // 10
# Load the app once in the master: a broken configuration stops start-up
# with one message instead of crashing every worker in turn.
preload_app = True
# Heartbeat files on a tmpfs, not on the (possibly slow or read-only) disk.
worker_tmp_dir = "/dev/shm"
# X-Forwarded-Proto is believed from these peers (FORWARDED_ALLOW_IPS).
forwarded_allow_ips = (
    "*" if settings.FORWARDED_ALLOW_IPS is None else ",".join(map(str, settings.FORWARDED_ALLOW_IPS))
)
# The control socket (gunicornc) is for long-lived hosts; in a container the
# container itself is what one restarts or scales.
control_socket_disable = True
# No access log: the app writes a line per request (babyshop/logs.py), with
# its id, view, user and duration.
errorlog = "-"
loglevel = settings.LOG_LEVEL.lower()


def when_ready(arbiter):
    """The metrics' address, served by the master's thread: workers come and go."""
    if settings.METRICS_PORT:
        from babyshop import metrics

        metrics.serve_web()


class FormattedLogger(Logger):
    """gunicorn's own lines (start, workers, timeouts) in LOG_FORMAT too."""

    def setup(self, cfg):
        super().setup(cfg)
        if settings.LOG_FORMAT == "JSON":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())


logger_class = FormattedLogger
