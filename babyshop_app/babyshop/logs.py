"""Logs (docs/operations.md): one line per event on stdout, as plain text
(development) or as one JSON object per line (LOG_FORMAT=json, production).

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
A page the page cache answered (X-Cache: hit) gets its id but no line: the
proxy logs it, with the same id, and a line in web too cost such a page a
sixth of its throughput (docs/operations.md).

LineWriter writes the lines to stdout from a thread of its own, those of up
to WRITE_EVERY seconds in one write: a write per line cost a logged-in page
a tenth of its throughput (make bench). A WARNING or worse, and every line
before it, is written before the logging call returns.
"""

import contextlib
import contextvars
import io
import json
import logging
import os
import re
import threading
import time
import uuid

from django.utils.functional import empty

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

# What a record would otherwise find out for every line, and no line here
# shows: the caller's file, line and function, and the thread's,
# multiprocessing's and asyncio task's names (the process id stays: gunicorn's
# plain lines show it). A sixth of the request line's cost
# (docs/performance.md); a format that wants them needs these back on.
logging._srcfile = None  # (the switch the logging HOWTO's "Optimization" names)
logging.logThreads = logging.logMultiprocessing = logging.logAsyncioTasks = False


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time (UTC), level, logger,
    message, the request and task ids when there are, the fields a record
    brings (a request's method, path, ...), and a traceback as one string.

    Made for a line per request: one encoder for every line (json.dumps with
    an option makes one per call), and the time's date and second made once
    a second (docs/performance.md)."""

    encoder = json.JSONEncoder(default=str)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.second = (None, "")  # (a second since 1970, its text); one value: threads share it

    def format(self, record):
        second, text = self.second
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self.second = second, text
        entry = {
            "time": f"{text}.{int(record.msecs):03d}Z",
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
        return self.encoder.encode(entry)


class LineWriter(logging.StreamHandler):
    """A StreamHandler whose INFO and DEBUG lines are written by a thread,
    at most one write every WRITE_EVERY seconds: under load, each write
    holds many lines. What is still waiting at exit is written then
    (logging.shutdown flushes every handler); only a process killed outright
    (SIGKILL) loses its last WRITE_EVERY seconds of them."""

    WRITE_EVERY = 0.05

    def __init__(self, stream=None):
        super().__init__(stream)
        self.pid = self.waiting = self.wake = None

    def emit(self, record):
        try:
            line = self.format(record) + self.terminator
        except Exception:  # (as StreamHandler: a record that cannot be formatted is reported, not raised)
            self.handleError(record)
            return
        with self.lock:
            self.this_process()
            if self.wake is None:  # (the first line of this process: its writer)
                self.wake = threading.Event()
                writer = threading.Thread(target=self.write_waiting, args=(self.wake,), daemon=True)
                writer.start()
            self.waiting.append(line)
        if record.levelno >= logging.WARNING:
            self.write(record)
        elif not self.wake.is_set():  # (set: the writer will write this line too)
            self.wake.set()

    def this_process(self):
        """(Under the lock.) gunicorn forks its workers: a fork's copy of its
        parent's lines is the parent's to write, and it needs a writer thread
        of its own."""
        if self.pid != os.getpid():
            self.pid, self.waiting, self.wake = os.getpid(), [], None

    def write_waiting(self, wake):
        while True:
            wake.wait()
            time.sleep(self.WRITE_EVERY)  # (the lines of the next WRITE_EVERY seconds join this write)
            wake.clear()
            self.write()

    def write(self, record=None):
        """Writes what waits; a stream that fails is reported, never raised,
        as by StreamHandler."""
        try:
            self.flush()
        except Exception:
            self.handleError(record or logging.makeLogRecord({"msg": "lines waiting to be written"}))

    def flush(self):
        with self.lock:
            self.this_process()
            lines, self.waiting = self.waiting, []
            if lines:
                self.stream.write("".join(lines))
            super().flush()


class RequestLogMiddleware:
    """Gives each request its id and writes its line once it is answered.
    Right after the health checks, so Docker's probes are neither logged nor
    given an id, and before the page cache, so its hits get one too."""

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
            if response.get("X-Cache") == "hit" or not requests_logger.isEnabledFor(logging.INFO):
                return response  # (a hit: the proxy's line, with this id, is the line)
            duration = round((time.perf_counter() - started) * 1000, 1)
            path = masked_path(request.path, request.resolver_match)
            requests_logger.info(
                "%s %s %s %sms",
                request.method,
                path,
                response.status_code,
                duration,
                extra={"fields": _fields(request, response, path, duration)},
            )
            return response
        finally:
            request_id.reset(token)


def _fields(request, response, path, duration):
    fields = {
        "method": request.method,
        "path": path,
        "status": response.status_code,
        "duration_ms": duration,
    }
    if match := request.resolver_match:
        fields["view"] = match.view_name or match.route
    # Only a user the request loaded already: asking here would cost a page
    # served from the cache the session and user queries it skipped.
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "_wrapped", None) is not empty and user.is_authenticated:
        fields["user_id"] = user.pk
    return fields


def masked_path(path, match):
    """The path with the URL arguments in SECRET_URL_ARGUMENTS replaced by
    [secret]; match is what resolving it gave (None: unresolved)."""
    for name in SECRET_URL_ARGUMENTS & set(match.kwargs if match else ()):
        path = path.replace(str(match.kwargs[name]), "[secret]")
    return path


def remember_request(sender, instance, **kwargs):
    """pre_save of a task row: a task enqueued while a request is handled
    keeps that request's id (connected in apps.py)."""
    rid = request_id.get()
    if rid is not None and instance._state.adding:
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
