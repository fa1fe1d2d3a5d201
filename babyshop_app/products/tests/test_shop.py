"""Cart, checkout and orders: never oversold, one order per submit, prices
checked again, the shopper's mails sent by the worker."""

import re
import threading
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from products.models import Order, Product

pytestmark = pytest.mark.django_db


def add(client, product, times=1):
    for _ in range(times):
        assert client.post(f"/cart/add/{product.pk}/").status_code == 302


def checkout_form(client):
    """The checkout form's hidden fields, as the page gave them."""
    page = client.get("/checkout/")
    assert page.status_code == 200
    return {
        name: re.search(rf'name="{name}" value="([^"]+)"', page.text).group(1)
        for name in ("submission", "fingerprint")
    }


def place(client, form=None, **details):
    data = {"name": "Ann Example", "email": "ann@example.com", "address": "1 Main Street\nSpringfield"}
    return client.post("/checkout/", {**data, **(form or checkout_form(client)), **details})


@pytest.fixture
def monitor(make_product):
    return make_product(name="Baby Monitor", slug="baby-monitor", price=Decimal("89.00"), stock=5)


def test_the_cart_adds_changes_and_removes(client, monitor, make_product):
    rattle = make_product(name="Rattle", price=Decimal("8.50"), stock=5)
    add(client, monitor, 2)
    add(client, rattle)
    cart = client.get("/cart/")
    assert "Cart (3)" in cart.text
    assert "€186.50" in cart.text
    client.post(f"/cart/{monitor.pk}/", {"quantity": 1})
    client.post(f"/cart/{rattle.pk}/", {"quantity": 0})
    cart = client.get("/cart/")
    assert "Rattle" not in cart.text
    assert "Cart (1)" in cart.text
    assert "€89.00" in cart.text


def test_a_sold_out_product_cannot_be_added(client, make_product):
    gone = make_product(stock=0)
    assert "Sold out" in client.get(gone.get_absolute_url()).text
    add(client, gone)
    assert "Your cart is empty" in client.get("/cart/").text


def test_checkout_places_one_order_at_the_prices_paid_and_mails_it(client, monitor, queued_mail, run_tasks):
    add(client, monitor, 2)
    response = place(client)
    order = Order.objects.get()
    assert response.url == f"/orders/{order.number}/"
    assert (order.total, order.status, order.name) == (Decimal("178.00"), "placed", "Ann Example")
    (line,) = order.lines.all()
    assert (line.product_name, line.unit_price, line.quantity) == ("Baby Monitor", Decimal("89.00"), 2)
    monitor.refresh_from_db()
    assert monitor.stock == 3
    assert "Cart (" not in client.get("/").text, "the cart is empty again"
    page = client.get(response.url)
    assert "Thank you, Ann Example" in page.text
    assert "€178.00" in page.text

    # Later price changes do not touch the order.
    Product.objects.filter(pk=monitor.pk).update(price=Decimal("99.00"))
    assert order.lines.get().unit_price == Decimal("89.00")

    assert mail.outbox == []
    run_tasks()
    (message,) = mail.outbox
    assert message.recipients() == ["ann@example.com"]
    assert message.subject == f"Your babyshop order {str(order.number)[:8]}"
    text = message.message().get_body(("plain",)).get_content()
    html = message.message().get_body(("html",)).get_content()
    assert "2 x Baby Monitor at €89.00: €178.00" in text
    assert "Total: €178.00" in text
    assert "<th>€178.00</th>" in html


def test_a_form_sent_twice_makes_one_order(client, monitor):
    add(client, monitor)
    form = checkout_form(client)
    first = place(client, form)
    again = place(client, form)
    assert again.url == first.url
    assert Order.objects.count() == 1
    monitor.refresh_from_db()
    assert monitor.stock == 4


# The longest e-mail address Order.email stores (254), and one longer: the
# form took up to 320, and the database refused the order with a 500.
LONGEST_EMAIL = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 57}.com"
LONGER_EMAIL = LONGEST_EMAIL.replace("@", "@b.")


@pytest.mark.parametrize(
    ("field", "longest", "longer"),
    [
        ("name", "N" * 200, "N" * 201),
        ("email", LONGEST_EMAIL, LONGER_EMAIL),
        ("address", "A" * 1000, "A" * 1001),
    ],
)
def test_the_longest_details_are_stored_and_longer_ones_are_a_form_error(
    client, monitor, field, longest, longer
):
    add(client, monitor)
    refused = place(client, **{field: longer})
    assert refused.status_code == 200
    assert refused.context["form"].errors[field] == [
        f"Ensure this value has at most {len(longest)} characters (it has {len(longer)})."
    ]
    assert not Order.objects.exists()
    assert place(client, **{field: longest}).status_code == 302
    assert getattr(Order.objects.get(), field) == longest


def test_an_address_mail_cannot_be_sent_to_is_a_form_error(client, monitor):
    add(client, monitor)
    refused = place(client, email='"a\x01b"@example.com')
    assert refused.status_code == 200
    assert refused.context["form"].errors["email"] == [
        "Mail cannot be sent to this address: use one with no control or other unusual characters."
    ]
    assert not Order.objects.exists()


def test_a_price_changed_since_the_form_was_shown_is_refused(client, monitor, queued_mail):
    add(client, monitor)
    form = checkout_form(client)
    Product.objects.filter(pk=monitor.pk).update(price=Decimal("95.00"))
    response = place(client, form)
    assert response.status_code == 200
    assert "Prices or products changed since you looked" in response.text
    assert "€95.00" in response.text
    assert not Order.objects.exists()
    assert not DBTaskResult.objects.exists(), "no mail for an order that was not placed"
    monitor.refresh_from_db()
    assert monitor.stock == 5
    # The new form is for the cart as it is now, and the details typed stay.
    assert "Ann Example" in response.text
    assert place(client, checkout_form(client)).status_code == 302


def test_stock_is_checked_again_at_checkout(client, monitor):
    add(client, monitor, 3)
    form = checkout_form(client)
    Product.objects.filter(pk=monitor.pk).update(stock=2)
    response = place(client, form)
    assert "Only 2 of Baby Monitor left" in response.text
    assert not Order.objects.exists()


def test_an_order_is_seen_by_its_shopper_only(client, monitor):
    add(client, monitor)
    url = place(client).url
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 404
    assert client.get(f"/orders/{uuid.uuid4()}/").status_code == 404


def test_a_shoppers_form_id_shows_a_stranger_nothing_of_the_order(client, monitor):
    add(client, monitor)
    form = checkout_form(client)
    order_url = place(client, form).url
    secrets = ["Ann Example", "ann@example.com", "Main Street", order_url]
    stranger = Client()
    eve = {"name": "Eve Stranger", "email": "eve@example.com", "address": "Elsewhere"}
    with_empty_cart = place(stranger, form, **eve)
    add(stranger, monitor)
    with_the_same_cart = place(stranger, form, **eve)
    for answer, hidden in [(with_empty_cart, [*secrets, "Baby Monitor"]), (with_the_same_cart, secrets)]:
        assert answer.status_code == 200
        assert "This form has expired: check your cart and send it again." in answer.text
        assert [secret for secret in hidden if secret in answer.text] == []
    assert stranger.get(order_url).status_code == 404
    assert Order.objects.count() == 1


def test_my_orders_lists_a_logged_in_shoppers_orders(client, monitor):
    ann = get_user_model().objects.create_user("ann", "ann@example.com", "x")
    client.force_login(ann, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/checkout/").status_code == 302, "an empty cart has nothing to check out"
    add(client, monitor)
    assert 'value="ann@example.com"' in client.get("/checkout/").text
    order_url = place(client).url
    listed = client.get("/orders/")
    assert order_url in listed.text
    assert "1 &times; Baby Monitor" in listed.text
    assert Client().get("/orders/").status_code == 302, "log in first"


def test_another_site_cannot_fill_a_visitors_cart(client, monitor):
    refused = client.post(f"/cart/add/{monitor.pk}/", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    refused = client.post(f"/cart/add/{monitor.pk}/", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    own = client.post(f"/cart/add/{monitor.pk}/", headers={"Origin": "http://testserver"})
    assert own.status_code == 302
    assert "Cart (1)" in client.get("/cart/").text


def test_selling_the_last_item_shows_sold_out_on_the_next_request(client, make_product):
    """The checkout takes stock with QuerySet.update(), which sends no signal:
    the cached product fragment is stale unless that write changes its key."""
    last = make_product(stock=1)
    assert "Add to cart" in Client().get(last.get_absolute_url()).text
    add(client, last)
    place(client)
    assert "Sold out" in Client().get(last.get_absolute_url()).text


def test_a_cancelled_order_puts_the_product_back_on_sale_at_once(client, make_product):
    last = make_product(stock=1)
    add(client, last)
    place(client)
    assert "Sold out" in Client().get(last.get_absolute_url()).text
    assert Order.objects.get().cancel()
    assert "Add to cart" in Client().get(last.get_absolute_url()).text


def test_admin_ships_and_cancels_placed_orders(client, admin_client, monitor, queued_mail, run_tasks):
    orders = []
    for _ in range(2):
        add(client, monitor, 2)
        place(client)
        orders.append(Order.objects.first())
    run_tasks()
    mail.outbox.clear()
    changelist = "/admin/products/order/"
    shipped = admin_client.post(
        changelist, {"action": "ship", "_selected_action": [orders[0].pk]}, follow=True
    )
    assert "1 order(s) shipped." in shipped.text
    cancelled = admin_client.post(
        changelist, {"action": "cancel", "_selected_action": [o.pk for o in orders]}, follow=True
    )
    assert "1 order(s) cancelled." in cancelled.text
    assert "1 order(s) were not placed, and were left alone." in cancelled.text
    assert [o.status for o in Order.objects.order_by("id")] == ["shipped", "cancelled"]
    monitor.refresh_from_db()
    assert monitor.stock == 3, "the cancelled order's 2 items are back"
    run_tasks()
    (message,) = mail.outbox
    assert message.subject.endswith("is on its way")
    assert "2 x Baby Monitor" in message.message().get_body(("plain",)).get_content()
    assert admin_client.get(f"{changelist}{orders[0].pk}/change/").status_code == 200


def run_at_once(count, job):
    """count threads running job(i) together, each on its own connection."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        try:
            barrier.wait(10)
            results[i] = job(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_for_the_last_items_never_oversell(make_product):
    """Eight shoppers at once for the last three: three orders, stock 0."""
    last = make_product(stock=3)
    shoppers = [Client() for _ in range(8)]
    forms = []
    for shopper in shoppers:
        add(shopper, last)
        forms.append(checkout_form(shopper))
    answers = run_at_once(8, lambda i: place(shoppers[i], forms[i]))
    assert sorted(answer.status_code for answer in answers) == [200] * 5 + [302] * 3
    assert Order.objects.count() == 3
    last.refresh_from_db()
    assert last.stock == 0
    refused = [answer for answer in answers if answer.status_code == 200]
    assert all("Only 0 of" in answer.text for answer in refused)


@pytest.mark.django_db(transaction=True)
def test_a_double_submit_of_the_last_items_makes_one_order_both_answers_lead_to(make_product):
    last = make_product(stock=2)
    shopper, same_browser = Client(), Client()
    add(shopper, last, 2)
    form = checkout_form(shopper)
    same_browser.cookies = shopper.cookies
    answers = run_at_once(2, lambda i: place([shopper, same_browser][i], form))
    order = Order.objects.get()
    assert [answer.status_code for answer in answers] == [302, 302], [a.text[-300:] for a in answers]
    assert [answer.url for answer in answers] == [order.get_absolute_url()] * 2
    last.refresh_from_db()
    assert last.stock == 0
    assert shopper.get(order.get_absolute_url()).status_code == 200
    assert "Cart (" not in shopper.get("/").text, "the cart is empty again"
