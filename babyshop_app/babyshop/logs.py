"""Logs (docs/operations.md): one line per event on stdout, as plain text
(development) or as one JSON object per line (LOG_FORMAT=json, production),
written by the standard library's StreamHandler (settings.LOGGING).

Every line logged while a request is handled carries that request's id: the
one the proxy sends in X-Request-ID (Caddy makes one per request and logs it
in its own access log), or one made here when the request did not come from
a trusted proxy. The id is returned in the response's X-Request-ID header,
stored with every task the request enqueues, and set again by the worker
while it runs that task: one id follows a request through proxy, web and
worker.

RequestLogMiddleware writes one line per request (method, path, status,
duration, view, user id): never a name, an e-mail address, a query string
or a secret in the path (URL arguments in SECRET_URL_ARGUMENTS are masked).
"""

import contextlib
import contextvars
import io
import json
import logging
import re
import time
import uuid

from babyshop.proxy import from_trusted_proxy

# The request (or the task's request) and the task the running code serves.
request_id = contextvars.ContextVar("request_id", default=None)
task_id = contextvars.ContextVar("task_id", default=None)

# An id from the proxy is kept if it looks like one (Caddy's is a UUID).
INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# URL arguments that are secrets (the password-reset link's token).
SECRET_URL_ARGUMENTS = frozenset({"token"})
# Where a task keeps the id of the request that enqueued it.
TASK_REQUEST_ID = "request_id"

requests_logger = logging.getLogger("babyshop.requests")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time (UTC), level, logger,
    message, the request and task ids when there are, the fields a record
    brings (a request's method, path, ...), and a traceback as one string."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def format(self, record):
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := request_id.get()) is not None:
            entry["request_id"] = rid
        if (tid := task_id.get()) is not None:
            entry["task_id"] = tid
        entry.update(getattr(record, "fields", ()))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class RequestLogMiddleware:
    """Gives each request its id and writes its line once it is answered.
    Right after the health checks, so Docker's probes are neither logged nor
    given an id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = request.META.get("HTTP_X_REQUEST_ID", "")
        if not (INCOMING_ID.fullmatch(rid) and from_trusted_proxy(request)):
            rid = uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            if requests_logger.isEnabledFor(logging.INFO):
                duration = round((time.perf_counter() - started) * 1000, 1)
                path = masked_path(request.path, request.resolver_match)
                fields = {
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": duration,
                }
                if match := request.resolver_match:
                    fields["view"] = match.view_name or match.route
                # For a signed-in visitor on a page that never looked at its
                # user, this loads the session and the user: two queries. Not
                # for an error's answer: the database may be what failed.
                user = getattr(request, "user", None)
                if user is not None and response.status_code < 500 and user.is_authenticated:
                    fields["user_id"] = user.pk
                requests_logger.info(
                    "%s %s %s %sms",
                    request.method,
                    path,
                    response.status_code,
                    duration,
                    extra={"fields": fields},
                )
            return response
        finally:
            request_id.reset(token)


def masked_path(path, match):
    """The path with the URL arguments in SECRET_URL_ARGUMENTS replaced by
    [secret]; match is what resolving it gave (None: unresolved)."""
    for name in SECRET_URL_ARGUMENTS & set(match.kwargs if match else ()):
        path = path.replace(str(match.kwargs[name]), "[secret]")
    return path


def remember_request(sender, instance, **kwargs):
    """pre_save of a task row: a task saved while a request is handled keeps
    the id of the first request that saved it (connected in apps.py)."""
    rid = request_id.get()
    if rid is not None and TASK_REQUEST_ID not in instance.args_kwargs:
        instance.args_kwargs = {**instance.args_kwargs, TASK_REQUEST_ID: rid}


@contextlib.contextmanager
def task_context(row):
    """While the worker runs a task: its id, and its request's, on every line."""
    tokens = task_id.set(str(row.id)), request_id.set(row.args_kwargs.get(TASK_REQUEST_ID))
    try:
        yield
    finally:
        task_id.reset(tokens[0])
        request_id.reset(tokens[1])


class LineLog(io.TextIOBase):
    """A file for a management command's output whose every line is a log
    record: what prestart's commands print is in LOG_FORMAT too. A line
    written in pieces (migrate's "Applying ...", then " OK") is one record;
    an unfinished last line is written on close."""

    def __init__(self, logger, level=logging.INFO):
        self.logger, self.level, self.pending = logger, level, ""

    def write(self, text):
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self._log(line)
        return len(text)

    def close(self):
        self._log(self.pending)
        self.pending = ""
        super().close()

    def _log(self, line):
        if line.strip():
            self.logger.log(self.level, line.rstrip())
