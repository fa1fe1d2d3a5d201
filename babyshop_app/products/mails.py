"""The shop's mails to a shopper, text and HTML, queued for the worker in the
transaction that changed the order (babyshop/mail.py)."""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

SUBJECTS = {
    "placed": "Your babyshop order {number}",
    "shipped": "Your babyshop order {number} is on its way",
}


def send_order_mail(order, kind):
    """Mail the shopper that their order was placed, or shipped."""
    context = {"order": order, "lines": list(order.lines.all())}
    message = EmailMultiAlternatives(
        SUBJECTS[kind].format(number=str(order.number)[:8]),
        render_to_string(f"products/mail/order_{kind}.txt", context),
        to=[order.email],
    )
    message.attach_alternative(render_to_string(f"products/mail/order_{kind}.html", context), "text/html")
    message.send()
