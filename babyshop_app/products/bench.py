"""The demo shop's part of `make bench` (tests/bench/bench.py runs each app's
bench.py, on the host): its pages beside the home page, with the catalog
that seed_demo loads, and checkouts a second (checkouts.py), whose
confirmations the worker then mails."""

import json
import sys
import time

from conftest import MailCatcher, run, wait_until

SEED = "seed_demo"
PAGES = {"category": "/category/toys/", "product": "/products/baby-monitor/"}
SESSION_PAGES = {
    "product, logged in": ("/products/baby-monitor/", "user"),
    "home, with a cart": ("/", "cart"),
    "product, with a cart": ("/products/baby-monitor/", "cart"),
}


def load(bench, network):
    """Checkouts a second on web, with the worker stopped; then the worker
    started and timed until it has mailed every confirmation. The rows of
    the figures table, and how many checkouts failed."""
    stock = ("from products.models import Product; Product.objects.update(stock=10**7); "
             "print(Product.objects.get(slug='baby-monitor').pk)")  # fmt: skip
    shell = ["exec", "-T", "web", "python", "manage.py", "shell", "-c"]
    product = bench.compose(*shell, stock).stdout.split()[-1]
    bench.compose("stop", "worker")
    print(f"bench: checkouts ({bench.seconds} s, {bench.connections} shoppers)", file=sys.stderr)
    # checkouts.py is in the image, beside this file.
    result = run("docker", "run", "--rm", "--label", bench.label, "--network", network,
                 "--entrypoint", "python", f"{bench.id}:view", "products/checkouts.py", "http://web:8000",
                 "localhost", product, str(bench.connections), str(bench.seconds), timeout=600)  # fmt: skip
    done = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"bench: checkouts: {done}", file=sys.stderr)
    with MailCatcher(type("Stack", (), {"project": bench.id})) as catcher:
        started = time.monotonic()
        bench.compose("start", "worker")
        wait_until(lambda: len(catcher.messages()) >= done["checkouts"], "every confirmation", 900)
        mails = done["checkouts"] / (time.monotonic() - started)
    p50, p99 = ("n/a" if done[p] is None else f"{done[p]:.0f}" for p in ("p50", "p99"))
    failed = done["failed"]
    rows = [
        (f"checkouts a second, production web at {bench.cpus} CPU ({bench.connections} shoppers)",
         f"{done['checkouts'] / done['seconds']:.1f}", "-", "reported"),
        ("  placing the order, p50 / p99", f"{p50} / {p99} ms", "-", "reported"),
        ("  checkouts that failed", str(failed), "0", "met" if failed == 0 else "missed"),
        ("confirmation mails a second through the worker (SMTP to MailDev)", f"{mails:.1f}", "-", "reported"),
    ]  # fmt: skip
    return rows, failed
