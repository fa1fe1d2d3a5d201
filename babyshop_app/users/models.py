from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """The project's own user model, set from the first migration so that it
    can grow fields later without the painful switch away from auth.User."""

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
