"""Every email goes through the worker.

``MAILERS["default"]`` is ``QueuedEmailBackend``: sending a message (Django's
password reset, ``send_mail``, ``EmailMessage.send``) stores it, as the bytes
that will go over the wire, in a ``send_email`` task. The task is a row in
the caller's transaction, so a mail exists only if the data that caused it
was committed, a page never waits for an SMTP server, and an SMTP server that
is down delays the mail (the worker retries) instead of losing it. The
worker sends it with ``MAILERS["smtp"]``. The Message-ID is fixed when the
mail is queued, so in the rare case a mail goes out twice (the worker
stopped between the SMTP server's "ok" and its own commit) both copies are
one message to a mail client.
"""

import base64
import email.policy
from email.parser import BytesParser

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, mailers
from django.core.mail.backends.base import BaseEmailBackend
from django.tasks import task

# The mailer the worker sends with (settings.MAILERS).
SMTP_MAILER = "smtp"
# The worker leaves this queue alone while no SMTP server is configured
# (settings.TASK_QUEUES): the mail waits instead of failing.
QUEUE = "email"


def validate_recipient(address):
    """Refuses an address the worker's SMTP mailer cannot send to.

    Django's EmailValidator accepts a quoted local part with control
    characters ("a\\x01b"@example.com): the message is queued, but Django's
    SMTP backend refuses the address (EmailBackend.prep_address) and no retry
    can change that. Its rule, then: the address must parse as one mailbox in
    which Python's email parser finds no defect. And its local part must not
    be empty (""@example.com), which that backend sends as "@example.com".
    """
    header = email.policy.SMTP.header_factory("To", address)
    # The backend lets a local mailbox ("webmaster") pass; EmailValidator refuses it.
    defects = [defect for defect in header.defects if str(defect) != "addr-spec local part with no domain"]
    if defects or len(header.addresses) != 1 or not header.addresses[0].username:
        raise ValidationError(
            "Mail cannot be sent to this address: use one with no control or other unusual characters.",
            code="undeliverable",
        )


class QueuedEmailBackend(BaseEmailBackend):
    """Queues each message as a send_email task instead of sending it."""

    def send_messages(self, email_messages):
        queued = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            # Builds the message now: a bad header fails here, in the caller.
            raw = message.message(policy=email.policy.SMTP).as_bytes()
            send_email.enqueue(base64.b64encode(raw).decode("ascii"), message.from_email, recipients)
            queued += 1
        return queued


class StoredMessage(EmailMessage):
    """A message as it was queued: its bytes, sender and envelope recipients
    (Bcc included, which the bytes do not show)."""

    def __init__(self, raw, sender, recipients):
        self.raw = raw
        super().__init__(subject=self.message()["Subject"], from_email=sender, to=recipients)

    def message(self, *, policy=email.policy.default):
        return BytesParser(policy=policy).parsebytes(self.raw)

    def recipients(self):
        return list(self.to)


@task(queue_name=QUEUE)
def send_email(raw, sender, recipients):
    """Send one queued message over SMTP; an error is retried by the worker."""
    message = StoredMessage(base64.b64decode(raw), sender, recipients)
    with mailers[SMTP_MAILER] as connection:
        if connection.send_messages([message]) != 1:
            raise RuntimeError(f"the {SMTP_MAILER!r} mailer did not send the message")
