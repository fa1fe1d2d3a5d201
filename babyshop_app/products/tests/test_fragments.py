"""Cached fragments are fresh on the next request after a save, in every
process, though each caches in its own memory (no CACHE_URL)."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

# A web process of its own: Django's test client in a new Python process,
# on the test database, answering each path read from stdin with its page.
WEB_PROCESS = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
for path in sys.stdin:
    print(json.dumps(client.get(path.strip()).text), flush=True)
"""


class WebProcess:
    def __init__(self):
        db = connection.settings_dict
        url = (
            f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'])}@{db['HOST']}:{db['PORT'] or 5432}/"
            f"{quote(db['NAME'])}"
        )
        env = {k: v for k, v in os.environ.items() if k != "CACHE_URL"}
        # DEBUG: static files by their plain names, with no collectstatic.
        # LOG_LEVEL: stdout holds the pages only.
        env.update(DATABASE_URL=url, DEBUG="true", METRICS_PORT="", LOG_LEVEL="WARNING")
        self.process = subprocess.Popen(
            [sys.executable, "-c", WEB_PROCESS],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def get(self, path):
        self.process.stdin.write(path + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self):
        self.process.communicate(timeout=30)  # closes its stdin, so it ends
        assert self.process.returncode == 0


@pytest.fixture
def web_processes(transactional_db):
    """Two web processes; they see only what this one commits, hence a
    transactional database (torn down after them)."""
    processes = [WebProcess(), WebProcess()]
    yield processes
    for process in processes:
        process.close()


def test_a_save_shows_on_the_next_request_in_every_process(web_processes, make_product):
    product = make_product(name="Baby Monitor", slug="monitor", price=Decimal("89.00"), stock=5)
    # Each page, and what its cached fragment shows of the product and its category.
    shown = {
        product.get_absolute_url(): ("€{}", '">{}</a></p>'),
        product.category.get_absolute_url(): ("€{}", '<span class="category">{}</span>'),
    }
    for web in web_processes:
        for path, (price, category) in shown.items():
            for _ in range(2):  # rendered, then from this process's cache
                page = web.get(path)
                assert price.format("89.00") in page
                assert category.format("Toys") in page
    product.price = Decimal("79.00")
    product.save()
    product.category.name = "Baby toys"
    product.category.save()
    for web in web_processes:
        for path, (price, category) in shown.items():
            page = web.get(path)
            assert price.format("79.00") in page, path
            assert category.format("Baby toys") in page, path
