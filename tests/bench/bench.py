"""make bench: every figure the project tracks, each beside its goal, in one
table (docs/performance.md says what it measures and its settings).

Not a test: a missed goal is reported, never an error, since figures depend
on the machine. The exit status is non-zero only when something is broken: a
build or a start-up fails, or a page answers anything but 2xx. It works on a
throwaway copy of the working tree (what git would commit), under names of
its own, and removes everything it made, whether it finished or not.
"""

import atexit
import json
import os
import re
import runpy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
# The stack suite's helpers.
from conftest import ROOT, copy_working_tree, inspect, run, wait_until

ID = f"babyshop-bench-{os.getpid()}"
LABEL = f"babyshop.bench={ID}"
# The pages measured, by name: the home page, its stylesheet (found on it), /healthz.
PAGES = {"home": "/", "static": None, "healthz": "/healthz"}
PROXY_HEADERS = ["-H", "Host: localhost", "-H", "X-Forwarded-Proto: https",
                 "-H", "X-Forwarded-For: 203.0.113.7"]  # fmt: skip
# What the two web containers of log_cost set: web's request log and metrics on (METRICS_PORT, as
# MONITORING=true sets it), and both off.
LOG_SIDES = {"with": ["LOG_LEVEL=INFO", "METRICS_PORT=9100"], "without": ["LOG_LEVEL=WARNING"]}
# The pages again for visitors with a session (a log-in, a cart), by name:
# (page, whose session).
SESSION_PAGES = {"home, logged in": ("/", "user")}
# What an app adds, in a bench.py of its own (<app>/bench.py),
# each optional: PAGES and SESSION_PAGES as above; SEED, the manage.py
# command that loads their data; load(bench, network), a load of its own on
# production web, returning its rows of the figures table and its failures.
APPS = [runpy.run_path(str(path)) for path in sorted(ROOT.glob("*_app/*/bench.py"))]
for app in APPS:
    PAGES |= app.get("PAGES", {})
    SESSION_PAGES |= app.get("SESSION_PAGES", {})
SEEDS = [app["SEED"] for app in APPS if "SEED" in app]
# Run in a web container: a logged-in user's session and an anonymous one
# holding a cart, each with a CSRF cookie as a browser has, printed as two
# Cookie headers.
SESSIONS = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils.crypto import get_random_string
user, _ = get_user_model().objects.get_or_create(username="bench")
browser = Client()
browser.force_login(user)
store = import_module(settings.SESSION_ENGINE).SessionStore()
store["cart"] = {"1": 2}
store.create()
csrf = f"{settings.CSRF_COOKIE_NAME}={get_random_string(32)}"
print(f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}; {csrf}")
print(f"{settings.SESSION_COOKIE_NAME}={store.session_key}; {csrf}")
"""
DEPENDENCY_STEP = re.compile(r"(pip3?|uv pip) install|apt-get [^&;|]*install|collectstatic")


def fail(message):
    print(f"bench: {message}", file=sys.stderr)
    sys.exit(2)


def setting(name, default, pattern, expected):
    value = os.environ.get(name, default)
    if not re.fullmatch(pattern, value):
        fail(f"{name}={value} is not valid: expected {expected}")
    return value


def say(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self):
        quick = setting("BENCH_QUICK", "0", "[01]", "1 (smoke test) or 0") == "1"
        self.cpus = setting("BENCH_CPUS", "1", r"[0-9]*\.?[0-9]+", "a number of CPUs, e.g. 1 or 0.5")
        self.connections = int(setting("BENCH_CONNECTIONS", "16", "[1-9][0-9]{0,4}", "a whole number >= 1"))
        self.threads = int(setting("BENCH_THREADS", "2", "[1-9][0-9]{0,3}", "a whole number >= 1"))
        self.seconds = int(
            setting("BENCH_SECONDS", "1" if quick else "10", "[1-9][0-9]{0,4}", "a whole number >= 1")
        )
        self.warmup = int(setting("BENCH_WARMUP", "0" if quick else "2", "[0-9]{1,5}", "a whole number >= 0"))
        self.quick = quick
        if self.threads > self.connections:
            fail(f"BENCH_THREADS={self.threads} is more than BENCH_CONNECTIONS={self.connections}")
        if run("docker", "info", check=False).returncode != 0:
            fail("cannot reach the Docker engine (docker info failed): start it first")
        engine_cpus = int(run("docker", "info", "--format", "{{.NCPU}}").stdout)
        if not 0.01 <= float(self.cpus) <= engine_cpus:
            fail(f"BENCH_CPUS={self.cpus} is not valid: expected 0.01 to {engine_cpus} (this engine's CPUs)")
        self.base = (
            os.environ.get("PYTHON_IMAGE") or run(str(ROOT / "scripts" / "base-image.sh")).stdout.strip()
        )
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-"))
        self.work = self.tmp / "tree"
        self.work.mkdir()
        self.images, self.rows, self.figures = [], {}, {}
        self.id, self.label = ID, LABEL  # for the apps' load()
        self.app_rows, self.app_failures = [], 0
        atexit.register(self.clean_up)

    # ---- plumbing --------------------------------------------------------------

    def compose(self, *args, check=True):
        env = {**self.env(), "COMPOSE_PROJECT_NAME": ID}
        return run(str(self.work / "scripts" / "compose.sh"), *args, cwd=self.work, env=env, check=check)

    def env(self):
        """The calling shell's environment, without what the env file decides."""
        drop = {
            "IMAGE",
            "TAG",
            "WEB_CPUS",
            "WEB_REPLICAS",
            "COMPOSE_PROFILES",
            "MAKEFLAGS",
            "MAKELEVEL",
            "MFLAGS",
        }
        kept = {k: v for k, v in os.environ.items() if k not in drop}
        return {**kept, "ENV_FILE": str(self.work / ".env"), "SECRETS_DIR": str(self.work / "secrets")}

    def build(self, tag, **options):
        self.images.append(f"{ID}:{tag}")
        result = run("docker", "build", "--progress=plain", "--target", "production", "--tag", f"{ID}:{tag}",
                     str(self.work), timeout=1800, check=False, **options)  # fmt: skip
        if result.returncode != 0:
            fail(f"the production image does not build:\n{result.stderr[-3000:]}")
        return result.stderr

    @staticmethod
    def steps_that_ran(log):
        """The dependency-install and collectstatic steps that ran rather than came from the layer cache."""
        steps = dict(re.findall(r"^(#\d+) \[[^\]]+\] (.*)$", log, re.MULTILINE))
        cached = set(re.findall(r"^(#\d+) CACHED$", log, re.MULTILINE))
        ran = sorted(
            step[:60]
            for number, step in steps.items()
            if number not in cached and DEPENDENCY_STEP.search(step)
        )
        return "none" if not ran else f"{len(ran)} re-ran: {ran[0]}"

    def timed(self, function, *args):
        started = time.monotonic()
        result = function(*args)
        return time.monotonic() - started, result

    def clean_up(self):
        say("removing this run's containers, networks, volumes and images")
        if (self.work / ".env").exists():
            self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
        for kind in ("container", "network", "volume"):
            for label in (f"com.docker.compose.project={ID}", LABEL):
                listed = run("docker", kind, "ls", *(["--all"] if kind == "container" else []), "--quiet",
                             "--filter", f"label={label}", check=False).stdout.split()  # fmt: skip
                if listed:
                    run("docker", kind, "rm", *(["--force", "--volumes"] if kind == "container" else []),
                        *listed, check=False)  # fmt: skip
        if self.images:
            run("docker", "image", "rm", "--force", *self.images, check=False)
        run("rm", "-rf", str(self.tmp), check=False)

    # ---- 1. builds ---------------------------------------------------------------

    def builds(self):
        say(f"copying the working tree to {self.work}")
        copy_working_tree(self.work)
        say("building the load generator and the seed-style baseline")
        for name, dockerfile in (("wrk", "wrk.Dockerfile"), ("seed", "seed-style.Dockerfile")):
            self.images.append(f"{ID}-{name}:run")
            context = self.work if name == "seed" else self.work / "tests" / "bench"
            built = run(
                "docker", "build", "--quiet", "--tag", f"{ID}-{name}:run", "--build-arg",
                f"PYTHON_IMAGE={self.base}", "--file", str(self.work / "tests" / "bench" / dockerfile),
                str(context), check=False, timeout=1800,
            )  # fmt: skip
            if built.returncode != 0:
                fail(f"tests/bench/{dockerfile} does not build:\n{built.stderr[-2000:]}")
        version = run("docker", "run", "--rm", f"{ID}-wrk:run", "-v", check=False)
        self.wrk_version = (
            re.findall(r"^wrk (\S+)", version.stdout + version.stderr, re.MULTILINE) or ["?"]
        )[0]
        say("building the production image once, untimed (download caches)")
        self.build("warm")
        # BuildKit starts --no-cache builds with empty cache mounts; a new
        # build argument in every stage misses the layer cache but keeps them.
        say("cold build (no layer cache; download caches warm)")
        dockerfile = self.work / "Dockerfile"
        dockerfile.write_text(
            re.sub(r"(?m)^(FROM .*)$", rf"\1\nARG BENCH_COLD={ID}-{time.time()}", dockerfile.read_text())
        )
        self.figures["cold"], _ = self.timed(self.build, "cold")
        for kind, path, line in (("template", "templates/base.html", "<!-- bench -->"),
                                 ("view", f"{self.package()}/urls.py", "# bench")):  # fmt: skip
            say(f"rebuild after a one-line {kind} change")
            target = self.work / self.app_dir() / path
            target.write_text(target.read_text() + line + "\n")
            self.figures[kind], log = self.timed(self.build, kind)
            self.figures[f"{kind} ran"] = self.steps_that_ran(log)
        size = int(run("docker", "image", "inspect", "--format", "{{.Size}}", f"{ID}:view").stdout)
        base = run("docker", "image", "inspect", "--format", "{{.Size}}", self.base, check=False)
        self.figures["size"] = size / 1e6
        self.figures["own"] = (size - int(base.stdout)) / 1e6 if base.returncode == 0 else None

    def app_dir(self):
        return next(self.work.glob("*_app")).name

    def package(self):
        return next(self.work.glob("*_app/*/settings.py")).parent.name

    # ---- 2. prod-up -----------------------------------------------------------------

    def prod_up(self):
        settings = {"IMAGE": ID, "TAG": "view", "SITE_DOMAIN": "localhost", "HTTP_PORT": "127.0.0.1:0",
                    "HTTPS_PORT": "127.0.0.1:0", "WEB_CPUS": self.cpus, "WEB_REPLICAS": "1",
                    # A MailDev an app's load() may start, where the worker sends mail.
                    "SMTP_HOST": "mailcatcher", "SMTP_PORT": "1025", "SMTP_SECURITY": "NONE"}  # fmt: skip
        (self.work / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        run(str(self.work / "scripts" / "make-secrets.sh"), env=self.env())
        say("make prod-up, empty database")
        make = ["make", "--no-print-directory", "-C", str(self.work), "prod-up", f"COMPOSE_PROJECT_NAME={ID}"]
        env = {**self.env(), "COMPOSE_PROJECT_NAME": ID}
        self.figures["prod-up"], result = self.timed(lambda: run(*make, env=env, check=False, timeout=600))
        if result.returncode != 0:
            fail(f"make prod-up failed:\n{result.stderr[-3000:]}")
        for seed in SEEDS:
            self.compose("exec", "-T", "web", "python", "manage.py", seed)

    # ---- 3. and 4. load ---------------------------------------------------------------

    def tool(self, network, *options):
        """The load generator's container on network, idle until used."""
        return run("docker", "run", "--detach", "--label", LABEL, "--network", network, *options,
                   "--entrypoint", "sleep", f"{ID}-wrk:run", "infinity").stdout.strip()  # fmt: skip

    def curl(self, tool, url, *options):
        curl = ["curl", "--silent", "--insecure", "--max-time", "20"]
        return run("docker", "exec", tool, *curl, *options, url, check=False)

    @staticmethod
    def cpu_ns(container):
        """CPU nanoseconds the container has used, from its own cgroup (v1: ns; v2: microseconds)."""
        read = (
            "cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null"
            " || sed -n 's/^usage_usec \\([0-9]*\\)$/\\1000/p' /sys/fs/cgroup/cpu.stat"
        )
        value = run("docker", "exec", container, "sh", "-c", read, check=False).stdout.strip()
        return int(value) if value.isdigit() else None

    def wrk(self, tool, url, seconds, headers):
        load = ["--threads", str(self.threads), "--connections", str(self.connections),
                "--duration", f"{seconds}s"]  # fmt: skip
        return run("docker", "exec", tool, "wrk", *load, "--timeout", "10s", "--latency", *headers, url,
                   check=False)  # fmt: skip

    def load(self, target, tool, base, web, proxy=None, headers=(), curl_options=(), pages=PAGES):
        home = self.curl(tool, base + "/", *curl_options, *self.curl_headers(headers)).stdout
        css = re.search(r'<link[^>]*rel="?stylesheet[^>]*href="([^"]+)"', home)
        for key, path in pages.items():
            url = base + (path or (css.group(1) if css else "/no-stylesheet-on-the-home-page"))
            code = self.curl(tool, url, "--output", "/dev/null", "--write-out", "%{http_code}", *curl_options,
                             *self.curl_headers(headers)).stdout  # fmt: skip
            if code != "200":
                self.rows[target, key] = {"error": f"HTTP {code or 'none'}"}
                say(f"{target} {url} answered {code or 'nothing'}, not 200")
                continue
            if self.warmup:
                self.wrk(tool, url, self.warmup, headers)
            before = {name: self.cpu_ns(c) for name, c in (("web", web), ("proxy", proxy)) if c}
            report = self.wrk(tool, url, self.seconds, headers).stdout
            after = {name: self.cpu_ns(c) for name, c in (("web", web), ("proxy", proxy)) if c}
            row = self.parse(report)
            if row is None:
                self.rows[target, key] = {"error": "wrk failed"}
                continue
            for name in before:
                if before[name] is not None and after[name] is not None:
                    row[f"{name} CPU"] = (after[name] - before[name]) / (self.seconds * 1e9) * 100
            self.rows[target, key] = row
            say(f"{target:6} {url:40} {row['rps']:8.0f} req/s")

    def status(self, tool, url, headers, *options):
        """The HTTP status of one GET from the tool container."""
        written = ["--output", "/dev/null", "--write-out", "%{http_code}"]
        return self.curl(tool, url, *written, *options, *self.curl_headers(headers)).stdout

    @staticmethod
    def curl_headers(headers):
        return [part for header in headers[1::2] for part in ("-H", header)]

    @staticmethod
    def parse(report):
        def ms(value):
            number = float(re.match(r"[0-9.]+", value).group())
            return (
                number / 1000
                if value.endswith("us")
                else number * 1000
                if re.search(r"\ds$", value)
                else number
            )

        rps = re.search(r"^Requests/sec:\s+([0-9.]+)", report, re.MULTILINE)
        if not rps:
            return None
        latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", report, re.MULTILINE))
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
        sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
        return {"rps": float(rps.group(1)), "p50": ms(latency["50"]), "p99": ms(latency["99"]),
                "non-2xx": int(bad.group(1)) if bad else 0,
                "socket": sum(map(int, sockets.groups())) if sockets else 0}  # fmt: skip

    def production_load(self):
        web, proxy = (self.compose("ps", "--quiet", name).stdout.strip() for name in ("web", "proxy"))
        network = sorted(set(networks(web)) & set(networks(proxy)))[0]
        proxy_ip = networks(proxy)[network]["IPAddress"]
        # Caddy picks its certificate by the name asked for (SNI): in the tool
        # container, "localhost" is the proxy.
        hosts = self.tmp / "hosts"
        hosts.write_text(f"{proxy_ip} localhost\n")
        hosts.chmod(0o644)
        tool = self.tool(network, "--volume", f"{hosts}:/etc/hosts:ro")
        say(
            f"load: production web, direct, then through Caddy ({self.seconds} s a row after {self.warmup} s)"
        )
        self.load("web", tool, "http://web:8000", web, headers=PROXY_HEADERS)
        cookies = self.session_cookies(lambda: self.compose(
            "exec", "-T", "web", "python", "manage.py", "shell", "-c", SESSIONS).stdout)  # fmt: skip
        self.session_load("web", tool, "http://web:8000", web, cookies)
        self.log_cost(tool, cookies["user"])
        for app in APPS:
            if "load" in app:
                rows, failures = app["load"](self, network)
                self.app_rows += rows
                self.app_failures += failures
        # curl never looks localhost up: it is told where the proxy is.
        resolve = ["--resolve", f"localhost:443:{proxy_ip}"]
        self.load("proxy", tool, "https://localhost:443", web, proxy, ["-H", "Host: localhost"], resolve)
        self.figures["memory web"] = self.memory(web)
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")
        run("docker", "rm", "--force", tool)

    @staticmethod
    def session_cookies(sessions):
        """The Cookie headers of a logged-in user and a cart holder (SESSIONS' output)."""
        return dict(zip(("user", "cart"), sessions().strip().splitlines()[-2:], strict=True))

    def session_load(self, target, tool, base, web, cookies):
        """The pages of SESSION_PAGES, each with its visitor's cookies."""
        for key, (path, who) in SESSION_PAGES.items():
            headers = [*PROXY_HEADERS, "-H", f"Cookie: {cookies[who]}"]
            self.load(target, tool, base, web, headers=headers, pages={key: path})

    def log_cost(self, tool, user):
        """The home page (the catalog), anonymous and logged
        in, on two more web containers side by side: one with web's line per
        request and its metrics, one without either (LOG_SIDES). They are
        loaded in turn, in slices of BENCH_SECONDS * 0.3, five each, the first
        of each pair alternating: the machine's speed drifts within minutes,
        and each pair of slices sees the same. Then both are made again, in
        the other order, and measured again: of two containers made alike,
        the first made was the slower, by up to a tenth (docs/performance.md).
        Each side's figures are its slices' medians: now and then a slice is a
        fifth slower than its neighbours, on either side."""
        pairs, rounds, seconds = (1, 1, 1) if self.quick else (2, 5, max(1, round(self.seconds * 0.3)))
        say(f"load: web's request log and metrics, on and off ({pairs} x {rounds} x {seconds} s slices each)")
        pages = {"home": [], "home, logged in": ["-H", f"Cookie: {user}"]}
        slices = {(key, side): [] for key in pages for side in LOG_SIDES}
        for pair in range(pairs):
            sides = {side: f"{ID}-web-{side}" for side in sorted(LOG_SIDES, reverse=pair % 2 == 1)}
            for side, name in sides.items():
                options = [option for setting in LOG_SIDES[side] for option in ("--env", setting)]
                self.compose("run", "--detach", "--no-deps", "--name", name, *options, "web")
            for name in sides.values():
                health = lambda name=name: inspect(name, "{{.State.Health.Status}}")  # noqa: E731
                wait_until(lambda health=health: health() == "healthy", f"{name} healthy", 120, health)
            for key, cookie in pages.items():
                headers = [*PROXY_HEADERS, *cookie]
                for name in sides.values():
                    if self.warmup:
                        self.wrk(tool, f"http://{name}:8000/", self.warmup, headers)
                for turn in range(rounds):
                    for side in ("with", "without") if turn % 2 == 0 else ("without", "with"):
                        report = self.wrk(tool, f"http://{sides[side]}:8000/", seconds, headers).stdout
                        row = self.parse(report)
                        if row is None:
                            fail(f"wrk failed on the home page ({key}, {side} request log and metrics)")
                        slices[key, side].append(row)
            run("docker", "rm", "--force", *sides.values())
        self.figures["log cost"] = {key: {} for key in pages}
        for (key, side), rows in slices.items():
            say(f"  {key}, {side}, req/s a slice: " + " ".join(f"{row['rps']:.0f}" for row in rows))
            self.figures["log cost"][key][side] = {
                measure: statistics.median(row[measure] for row in rows) for measure in ("rps", "p99")
            }
        say(f"request log and metrics: {self.figures['log cost']}")

    def seed_style_load(self):
        say("starting the seed-style baseline (migrate, runserver)")
        network = f"{ID}-seed"
        run("docker", "network", "create", "--internal", "--label", LABEL, network)
        detached = ["docker", "run", "--detach", "--label", LABEL, "--network", network]
        run(*detached, "--name", f"{ID}-seed-db", "--network-alias", "db", "--env", "POSTGRES_PASSWORD=bench",
            "postgres:17")  # fmt: skip
        # Like the tutorials' compose files: the app starts once the database
        # answers (over TCP: the image's first start listens on its socket only).
        ready = ["docker", "exec", f"{ID}-seed-db", "pg_isready", "--quiet", "--host", "127.0.0.1",
                 "-U", "postgres"]  # fmt: skip
        wait_until(lambda: run(*ready, check=False).returncode == 0, "the baseline's PostgreSQL", 120)
        web = run(*detached, "--name", f"{ID}-seed-web", "--cpus", self.cpus,
                  "--env", "DATABASE_URL=postgres://postgres:bench@db:5432/postgres",
                  f"{ID}-seed:run").stdout.strip()  # fmt: skip
        tool = self.tool(network)
        base = f"http://{ID}-seed-web:8000"

        def serving():
            assert inspect(web, "{{.State.Running}}") == "true", "the seed-style baseline stopped"
            return self.status(tool, base + "/healthz", PROXY_HEADERS) == "200"

        wait_until(serving, "the seed-style baseline", 300,
                   detail=lambda: run("docker", "logs", "--tail", "25", web, check=False).stderr)  # fmt: skip
        for seed in SEEDS:
            run("docker", "exec", web, "python", "manage.py", seed)
        say("load: seed-style baseline, direct")
        self.load("seed", tool, base, web, headers=PROXY_HEADERS)
        cookies = self.session_cookies(lambda: run(
            "docker", "exec", web, "python", "manage.py", "shell", "-c", SESSIONS).stdout)  # fmt: skip
        self.session_load("seed", tool, base, web, cookies)
        self.figures["memory seed"] = self.memory(web)

    @staticmethod
    def memory(container):
        usage = run("docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container).stdout
        usage = usage.split("/")[0].strip()
        number, unit = re.match(r"([0-9.]+)\s*(\w+)", usage).groups()
        return float(number) * {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}.get(unit, 1)

    # ---- 5. the tables --------------------------------------------------------------------

    def rate(self, target, key):
        return self.rows.get((target, key), {}).get("rps")

    def report(self):
        f = self.figures
        x_seed = ratio(self.rate("web", "home"), self.rate("seed", "home"))
        of_web = ratio(self.rate("web", "home"), self.rate("web", "healthz"))
        of_proxy = ratio(self.rate("proxy", "home"), self.rate("proxy", "healthz"))
        with_session = [ratio(self.rate("web", key), self.rate("web", "healthz")) for key in SESSION_PAGES]
        personal = min(with_session) if all(with_session) else None
        x_seed_user = ratio(self.rate("web", "home, logged in"), self.rate("seed", "home, logged in"))
        no_steps = "<= {} s, no dependency or collectstatic step"
        figures = [
            ("figure", "value", "goal", "result"),
            (f"production image, own layers over {self.base}", text(f["own"], "{:.1f} MB"), "<= 60 MB",
             verdict(f["own"], f["own"] is not None and f["own"] <= 60)),
            ("production image, total", f"{f['size']:.1f} MB", "-", "reported"),
            ("cold build, no layer cache (download caches warm)", f"{f['cold']:.1f} s", "<= 20 s",
             verdict(f["cold"], f["cold"] <= 20)),
            ("rebuild after a one-line template change", f"{f['template']:.1f} s", no_steps.format(1.5),
             verdict(f["template"], f["template"] <= 1.5 and f["template ran"] == "none")),
            ("  dependency or collectstatic steps re-run", f["template ran"], "none", ""),
            ("rebuild after a one-line Python (URL) change", f"{f['view']:.1f} s", no_steps.format(2),
             verdict(f["view"], f["view"] <= 2 and f["view ran"] == "none")),
            ("  dependency or collectstatic steps re-run", f["view ran"], "none", ""),
            ("make prod-up -> healthy, empty database", f"{f['prod-up']:.1f} s", "<= 8 s",
             verdict(f["prod-up"], f["prod-up"] <= 8)),
            (f"home page req/s: production web / seed-style web (direct, {self.cpus} CPU each)",
             text(x_seed, "{:.2f}x"), ">= 4x", verdict(x_seed, x_seed is not None and x_seed >= 4)),
            ("home page req/s / healthz req/s: production web, direct", text(of_web, "{:.0%}"), ">= 50 %",
             verdict(of_web, of_web is not None and of_web >= 0.5)),
            ("home page req/s / healthz req/s: through Caddy HTTPS", text(of_proxy, "{:.0%}"), ">= 80 %",
             verdict(of_proxy, of_proxy is not None and of_proxy >= 0.8)),
            ("pages for a visitor with a session / healthz req/s: production web, direct (lowest)",
             text(personal, "{:.0%}"), ">= 30 %",
             verdict(personal, personal is not None and personal >= 0.3)),
            ("logged-in home page req/s: production web / seed-style web", text(x_seed_user, "{:.2f}x"), "-",
             "reported"),
            *self.app_rows,
            *self.log_cost_figures(),
            *((f"home p50 / p99: {name}", self.latency(t), "-", "reported") for t, name in NAMES.items()),
            ("web memory after the load: production / seed-style",
             f"{f['memory web']:.0f} / {f['memory seed']:.0f} MiB", "-", "reported"),
        ]  # fmt: skip
        heading = ("target", "page", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket err", "web CPU",
                   "proxy CPU", "vs /healthz")  # fmt: skip
        pages, errors = [heading], 0
        for target, name in NAMES.items():
            labels = {key: path or "stylesheet (linked)" for key, path in PAGES.items()}
            if target != "proxy":
                labels |= {key: f"{path} ({key.split(', ')[1]})" for key, (path, _) in SESSION_PAGES.items()}
            for key, label in labels.items():
                row = self.rows.get((target, key), {"error": "not measured"})
                errors += "error" in row or row["non-2xx"] > 0
                if "error" in row:
                    pages.append((name, label, row["error"], *[""] * 7))
                    continue
                pages.append((
                    name, label, f"{row['rps']:.0f}", f"{row['p50']:.2f}",
                    f"{row['p99']:.2f}", row["non-2xx"], row["socket"], text(row.get("web CPU"), "{:.0f}%"),
                    text(row.get("proxy CPU"), "{:.0f}%"),
                    text(ratio(row["rps"], self.rate(target, "healthz")), "{:.0%}"),
                ))  # fmt: skip
        tree = run("git", "-C", str(ROOT), "describe", "--always", "--dirty", check=False).stdout.strip()
        cpu = re.findall(r"^model name\s*: (.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE) or ["?"]
        engine = run("docker", "version", "--format", "{{.Server.Version}}").stdout.strip()
        print()
        print(f"babyshop bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, tree {tree}")
        print(f"machine: {os.cpu_count()} CPUs, {cpu[0]}, Docker Engine {engine}")
        print(
            f"settings: web CPU limit {self.cpus}; wrk {self.wrk_version}, {self.threads} threads, "
            f"{self.connections} connections, {self.seconds} s a row after {self.warmup} s of warm-up"
            + ("; QUICK MODE: the load figures mean nothing" if self.quick else "")
            + "\n"
        )
        print(markdown(figures, "lrll"), markdown(pages, "llrrrrrrrr"), sep="\n\n")
        print(
            "\nCPU columns: CPU time used during the measured seconds, in % of one core. Django's development"
            " server closes connections without Content-Length (/healthz), which wrk counts as socket read"
            " errors although the requests succeeded."
        )
        errors += self.app_failures > 0
        if errors:
            fail(f"{errors} row(s) failed or had non-2xx answers (see the table)")

    def log_cost_figures(self):
        rows = []
        for key, measured in self.figures["log cost"].items():
            fewer = 1 - measured["with"]["rps"] / measured["without"]["rps"]
            rows += [
                (f"{key}: req/s fewer with web's request log and metrics than without", f"{fewer:.1%}",
                 "<= 10 %", verdict(fewer, fewer <= 0.10)),
                ("  req/s, p99 ms: with / without",
                 f"{measured['with']['rps']:.0f}, {measured['with']['p99']:.1f} / "
                 f"{measured['without']['rps']:.0f}, {measured['without']['p99']:.1f}", "-", "reported"),
            ]  # fmt: skip
        return rows

    def latency(self, target):
        row = self.rows.get((target, "home"), {})
        return f"{text(row.get('p50'), '{:.2f}')} / {text(row.get('p99'), '{:.2f}')} ms"


NAMES = {"web": "production web, direct", "proxy": "through Caddy HTTPS", "seed": "seed-style web, direct"}


def ratio(a, b):
    return a / b if a and b else None


def text(value, pattern):
    return "n/a" if value is None else pattern.format(value)


def verdict(value, ok):
    return "n/a" if value is None else ("met" if ok else "missed")


def networks(container):
    """The container's networks, by name."""
    return json.loads(inspect(container, "{{json .NetworkSettings.Networks}}"))


def markdown(rows, align):
    """rows as an aligned markdown table; align has an l or r per column."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(cells):
        padded = (
            c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if a == "r" else "-" * w for w, a in zip(widths, align, strict=True)]
    return "\n".join([line(rows[0]), line(rule), *map(line, rows[1:])])


def main():
    bench = Bench()
    try:
        bench.builds()
        bench.prod_up()
        bench.production_load()
        bench.seed_style_load()
    except AssertionError as error:  # a helper of the stack suite's: a command or a wait failed
        fail(str(error))
    bench.report()


if __name__ == "__main__":
    main()
