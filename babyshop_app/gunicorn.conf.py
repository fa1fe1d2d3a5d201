"""gunicorn settings, read from the environment (see .env.example)."""

import os

from gunicorn.glogging import Logger


def _int(name, default):
    # entrypoint.sh has checked that these are whole numbers.
    return int(os.environ.get(name) or default)


bind = f"0.0.0.0:{_int('PORT', 8000)}"
# Containers often see every host CPU, so the count is explicit, not derived.
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
timeout = _int("GUNICORN_TIMEOUT", 30)
# On SIGTERM workers get this long to finish in-flight requests; keep Compose's
# stop_grace_period above it.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow for ever.
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10
# Load the app once in the master: a broken configuration stops start-up
# with one message instead of crashing every worker in turn.
preload_app = True
# Heartbeat files on a tmpfs, not on the (possibly slow or read-only) disk.
worker_tmp_dir = "/dev/shm"
# Trust X-Forwarded-* from any peer: in production gunicorn is reachable only
# on the proxy's private network, never published on the host.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# The control socket (gunicornc) is for long-lived hosts; in a container the
# container itself is what one restarts or scales.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


class AccessLogWithoutHealthchecks(Logger):
    """The access log, minus Docker's own /healthz probe every few seconds."""

    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") != "/healthz":
            super().access(resp, req, environ, request_time)


logger_class = AccessLogWithoutHealthchecks
