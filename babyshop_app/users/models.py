from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

from babyshop.mail import validate_recipient


class User(AbstractUser):
    """The project's own user model, set from the first migration so that it
    can grow fields later without the painful switch away from auth.User."""

    # Only addresses the worker's mailer can send to, in every form of the
    # model (registration, the admin).
    email = models.EmailField("email address", blank=True, validators=[validate_recipient])

    class Meta(AbstractUser.Meta):
        constraints = [
            # A password reset mails every account of an address: one each,
            # whatever the letter case (docs/security.md). Many may have none.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="users_user_email_unique",
                violation_error_message="An account with this e-mail address exists already.",
            )
        ]
