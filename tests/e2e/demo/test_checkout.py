"""Checkout through the proxy, and its confirmation through the worker to a
real SMTP server: once per order, whatever happens to the SMTP server, and
while make prod-up replaces web and the worker under load."""

import re
import statistics
import threading
import time
import uuid

from conftest import SHARED, MailCatcher, Stack, anonymous, make, wait_until
from demo_shop import buy

ORDER_PAGE = re.compile(r"/orders/[0-9a-f-]{36}/$")


def address():
    return f"shopper-{uuid.uuid4().hex[:10]}@example.com"


def test_a_checkout_through_the_proxy_is_confirmed_by_mail(stack, catcher):
    email = address()
    order = buy(anonymous(stack), stack.url, "soft-rattle-elephant", email, quantity=2)
    assert ORDER_PAGE.search(order.url), order.text[:500]
    assert "Thank you, E2E Shopper" in order.text
    number = order.url.rstrip("/").rsplit("/", 1)[1][:8]
    message = catcher.wait_for(email)
    assert message["subject"] == f"Your babyshop order {number}"
    assert "2 x Soft Rattle Elephant at €8.50: €17.00" in message["text"]
    time.sleep(2)  # a second copy would have come by now
    assert len(catcher.messages(email)) == 1


def test_checkouts_while_the_smtp_server_is_down_are_placed_and_mailed_later(stack, catcher):
    emails = [address() for _ in range(3)]
    catcher.docker("stop")
    try:
        for email in emails:
            assert ORDER_PAGE.search(buy(anonymous(stack), stack.url, "sun-hat", email).url)
    finally:
        catcher.docker("start")
    for email in emails:
        catcher.wait_for(email, timeout=90)
    assert [len(catcher.messages(email)) for email in emails] == [1, 1, 1]


def test_checkouts_under_load_during_prod_up_all_succeed_and_are_mailed_once(image, tmp_path, figures):
    """Shoppers keep checking out while make prod-up replaces both web
    containers and the worker: no checkout fails, and every order gets
    exactly one confirmation."""
    with Stack(tmp_path, "checkout-load", **SHARED) as shop:
        shop.up()
        shop.trust_proxy_ca()
        shop.psql("UPDATE products_product SET stock = 100000")  # enough for every shopper
        with MailCatcher(shop) as catcher:
            placed, failed, latencies, stop = [], [], [], threading.Event()
            slugs = ["wool-booties", "plush-bunny", "sippy-cup", "night-light-moon"]

            def shopper(number):
                session = anonymous(shop)
                while not stop.is_set():
                    email = address()
                    started = time.monotonic()
                    try:
                        answer = buy(session, shop.url, slugs[number], email)
                        ok = bool(ORDER_PAGE.search(answer.url))
                    except (OSError, AssertionError) as error:
                        ok, answer = False, error
                    latencies.append(time.monotonic() - started)
                    (placed if ok else failed).append(email if ok else repr(answer)[:200])

            threads = [threading.Thread(target=shopper, args=(n,)) for n in range(len(slugs))]
            for thread in threads:
                thread.start()
            started = time.monotonic()
            try:
                time.sleep(2)
                make("prod-up", f"ENV_FILE={shop.env_file}", env={"COMPOSE_PROJECT_NAME": shop.project})
                time.sleep(2)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(60)
            deploy = time.monotonic() - started
            wait_until(
                lambda: all(catcher.messages(email) for email in placed), "every confirmation", timeout=120
            )
            time.sleep(2)
            copies = [len(catcher.messages(email)) for email in placed]
            figures.append(
                f"checkouts during prod-up ({deploy:.1f}s): {len(placed)} placed, {len(failed)} failed, "
                f"{sum(copies)} confirmations for {len(placed)} orders ({copies.count(1)} exactly once), "
                f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
            )
            assert failed == []
            assert len(placed) >= 10
            assert copies == [1] * len(placed)
            orders = shop.psql("SELECT count(*) FROM products_order")
            assert int(orders) == len(placed)
