"""The shopping cart, kept in the visitor's session, and checkout.

The cart holds product ids and quantities only; prices and stock are read
from the database whenever it is shown, and again, under row locks, when the
order is placed (place_order): the price paid is the price at that moment,
and stock never goes below zero, however many checkouts run at once.
"""

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now

from products.mails import send_order_mail
from products.models import Order, OrderLine, Product

SESSION_KEY = "cart"
# The ids of the checkout forms this session was given, the last 20.
SUBMISSIONS_KEY = "checkout_forms"
# Most items of one product in one cart.
MAX_QUANTITY = 20


class CheckoutRefused(Exception):
    """The cart cannot be bought as it is; the message says why, to the shopper."""


@dataclass
class Line:
    product: Product
    quantity: int

    @property
    def subtotal(self):
        return self.product.price * self.quantity


class Cart:
    def __init__(self, session):
        self.session = session
        raw = session.get(SESSION_KEY, {})
        self.quantities = (
            {int(pk): int(quantity) for pk, quantity in raw.items()} if isinstance(raw, dict) else {}
        )

    def set(self, product_id, quantity):
        """Set a product's quantity (0 removes it), at most MAX_QUANTITY."""
        quantity = max(0, min(int(quantity), MAX_QUANTITY))
        if quantity:
            self.quantities[product_id] = quantity
        else:
            self.quantities.pop(product_id, None)
        self._save()

    def add(self, product_id, quantity=1):
        self.set(product_id, self.quantities.get(product_id, 0) + quantity)

    def clear(self):
        self.quantities = {}
        self._save()

    def new_submission(self):
        """A new checkout form's id, kept in the session: place_order takes
        only the forms this session was given."""
        submission = uuid.uuid4()
        self.session[SUBMISSIONS_KEY] = [*self.session.get(SUBMISSIONS_KEY, [])[-19:], str(submission)]
        return submission

    def issued(self, submission):
        return str(submission) in self.session.get(SUBMISSIONS_KEY, [])

    def _save(self):
        self.session[SESSION_KEY] = {str(pk): quantity for pk, quantity in self.quantities.items()}

    def __len__(self):
        return sum(self.quantities.values())

    def lines(self, lock=False):
        """The cart's lines, with today's products (gone or hidden ones
        dropped); lock: their rows locked until the transaction ends, taken
        in order of id, so that two checkouts wait for each other instead of
        deadlocking."""
        products = Product.objects.active().filter(pk__in=self.quantities).order_by("pk")
        if lock:
            products = products.select_for_update()
        return [Line(product, self.quantities[product.pk]) for product in products]

    @staticmethod
    def total(lines):
        return sum((line.subtotal for line in lines), Decimal("0"))

    @staticmethod
    def fingerprint(lines):
        """What the shopper saw: products, quantities and prices. Checkout
        refuses a cart whose fingerprint changed since the form was shown."""
        seen = ";".join(f"{line.product.pk}:{line.quantity}:{line.product.price}" for line in lines)
        return hashlib.sha256(seen.encode()).hexdigest()[:32]


def place_order(cart, *, submission, fingerprint, name, email, address, user=None):
    """The order for the cart as the shopper saw it, in one transaction that
    holds its products' rows locked: their stock checked and taken (never
    below zero), lines at their current prices, the confirmation mail
    queued. A form sent again (a double submit, a retried POST) gets the
    order it made; only the session the form was given to may send it.
    Raises CheckoutRefused otherwise."""
    if not cart.issued(submission):
        raise CheckoutRefused("This form has expired: check your cart and send it again.")
    with transaction.atomic():
        # Locked first: the same form sent twice at once waits here until the
        # other request's order is committed, and then finds it.
        lines = cart.lines(lock=True)
        order = Order.objects.filter(submission=submission).first()
        if order is None:
            if not lines:
                raise CheckoutRefused("Your cart is empty.")
            if Cart.fingerprint(lines) != fingerprint:
                raise CheckoutRefused("Prices or products changed since you looked: check your cart again.")
            for line in lines:
                if line.product.stock < line.quantity:
                    left = line.product.stock
                    raise CheckoutRefused(f"Only {left} of {line.product.name} left: change your cart.")
            order = Order.objects.create(
                submission=submission, user=user, name=name, email=email, address=address,
                total=Cart.total(lines),
            )  # fmt: skip
            for line in lines:
                Product.objects.filter(pk=line.product.pk).update(
                    stock=F("stock") - line.quantity, updated_at=Now()
                )
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    product=line.product,
                    product_name=line.product.name,
                    unit_price=line.product.price,
                    quantity=line.quantity,
                )
                for line in lines
            )
            # Queued with the order: sent by the worker once this commits.
            send_order_mail(order, "placed")
    cart.clear()
    return order
