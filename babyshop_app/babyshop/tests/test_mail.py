"""Mail is queued in the sender's transaction and sent by the worker."""

import email.policy
import smtplib

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, mailers, send_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.validators import validate_email
from django.db import transaction
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from babyshop.mail import validate_recipient

pytestmark = pytest.mark.django_db


class DownBackend(BaseEmailBackend):
    """An SMTP server that refuses every connection."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPConnectError(421, "try again later")


def test_a_mail_is_queued_then_sent_by_the_worker(queued_mail, run_tasks):
    message = EmailMultiAlternatives(
        "Your order", "Thank you.", "shop@example.com", ["ann@example.com"], bcc=["audit@example.com"]
    )
    message.attach_alternative("<p>Thank you.</p>", "text/html")
    assert message.send() == 1
    assert mail.outbox == []
    task = DBTaskResult.objects.get()
    assert (task.queue_name, task.status) == ("email", TaskResultStatus.READY)

    run_tasks()

    (sent,) = mail.outbox
    assert sent.subject == "Your order"
    assert sent.from_email == "shop@example.com"
    # Bcc is on the envelope, never in the headers.
    assert sorted(sent.recipients()) == ["ann@example.com", "audit@example.com"]
    parsed = sent.message()
    assert "Bcc" not in parsed
    assert parsed["To"] == "ann@example.com"
    assert parsed.get_body(("plain",)).get_content().strip() == "Thank you."
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Thank you.</p>"
    task.refresh_from_db()
    assert task.status == TaskResultStatus.SUCCESSFUL


def test_no_mail_for_a_rolled_back_transaction(queued_mail, run_tasks):
    def sign_up():
        with transaction.atomic():
            send_mail("Welcome", "Hello.", None, ["ann@example.com"])
            raise RuntimeError("the request failed after the mail was sent")

    with pytest.raises(RuntimeError):
        sign_up()
    assert not DBTaskResult.objects.exists()
    run_tasks()
    assert mail.outbox == []


def test_an_smtp_server_that_is_down_delays_mail_without_losing_it(queued_mail, run_tasks, settings):
    settings.MAILERS["smtp"] = {"BACKEND": f"{__name__}.DownBackend"}
    send_mail("Welcome", "Hello.", None, ["ann@example.com"])
    run_tasks()
    task = DBTaskResult.objects.get()
    assert task.status == TaskResultStatus.READY
    assert task.exception_class_path == "smtplib.SMTPConnectError"
    assert len(task.worker_ids) == 1

    settings.MAILERS["smtp"] = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    run_tasks()
    assert mail.outbox == [], "tried again before its time"
    DBTaskResult.objects.update(run_after=task.enqueued_at)
    run_tasks()
    assert [message.subject for message in mail.outbox] == ["Welcome"]
    task.refresh_from_db()
    assert task.status == TaskResultStatus.SUCCESSFUL
    assert task.exception_class_path == ""


def test_without_an_smtp_server_mail_waits(queued_mail, run_tasks, settings):
    settings.TASK_QUEUES = ["default"]
    send_mail("Welcome", "Hello.", None, ["ann@example.com"])
    run_tasks()
    assert mail.outbox == []
    assert DBTaskResult.objects.get().status == TaskResultStatus.READY


def test_a_bad_header_fails_in_the_sender_not_in_the_worker(queued_mail):
    with pytest.raises(ValueError, match="linefeed"):
        send_mail("Subject\nBcc: everyone@example.com", "Hello.", None, ["ann@example.com"])
    assert not DBTaskResult.objects.exists()


# Addresses Django's EmailValidator may accept: every ASCII character in a
# quoted local part, plain and escaped, and a few other unusual forms.
ADDRESSES = [
    *(f'"a{chr(code)}b"@example.com' for code in range(128)),
    *(f'"a\\{chr(code)}b"@example.com' for code in range(128)),
    *['""@example.com', "o'neil+shop@example.com", "a@bücher.de", "a@[192.0.2.1]", "ü@example.com"],
]


def test_the_recipient_validator_takes_what_djangos_smtp_backend_can_send_to(settings):
    smtp = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {"host": "smtp.invalid"}}
    settings.MAILERS = {**settings.MAILERS, "smtp": smtp}
    backend = mailers["smtp"]  # prep_address only reads the address: nothing connects
    sendable = {True: 0, False: 0}
    for address in ADDRESSES:
        try:
            validate_email(address)
        except ValidationError:
            continue  # the form refuses it anyway
        try:
            # The envelope address the worker's mailer would give the SMTP server.
            envelope = backend.prep_address(address)
        except ValueError:
            envelope = "@"
        try:
            validate_recipient(address)
        except ValidationError:
            accepted = False
        else:
            accepted = True
        assert accepted == (not envelope.startswith("@")), address
        sendable[accepted] += 1
    assert min(sendable.values()) > 30, f"addresses of either kind: {sendable}"


def test_an_address_the_validator_accepts_reaches_the_message_unchanged(queued_mail, run_tasks):
    accepted = []
    for address in ADDRESSES:
        try:
            validate_email(address)
            validate_recipient(address)
        except ValidationError:
            continue
        accepted.append(address)
    send_mail("Your order", "Thank you.", None, accepted)
    run_tasks()
    (message,) = mail.outbox
    assert message.recipients() == accepted
    sent = message.message()["To"].addresses
    given = [email.policy.SMTP.header_factory("To", address).addresses[0] for address in accepted]
    # Nothing lost or changed on the way, but a domain's IDNA encoding.
    assert [(address.username, address.domain) for address in sent] == [
        (address.username, address.domain.encode("idna").decode()) for address in given
    ]
