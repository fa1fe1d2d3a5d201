from django.core.management.base import CommandError
from django.db import migrations, models
from django.db.models.functions import Lower

import babyshop.mail

SHOWN = 5


def refuse_shared_addresses(apps, schema_editor):
    """A database with accounts sharing an address gets a message saying
    which, instead of PostgreSQL's refusal to build the unique index. Nothing
    is changed for the operator: which account keeps an address is theirs to
    decide (docs/security.md)."""
    User = apps.get_model("users", "User")
    shared = list(
        User.objects.exclude(email="")
        .values(address=Lower("email"))
        .annotate(accounts=models.Count("id"))
        .filter(accounts__gt=1)
        .order_by("address")
        .values_list("address", flat=True)
    )
    if shared:
        more = f" and {len(shared) - SHOWN} more" if len(shared) > SHOWN else ""
        raise CommandError(
            "e-mail addresses are to be unique per account (letter case aside), but these belong to "
            f"several accounts each: {', '.join(shared[:SHOWN])}{more}. Give each of those accounts an "
            "address of its own, or none, in the admin (Users), then migrate again"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="email",
            field=models.EmailField(
                blank=True,
                max_length=254,
                validators=[babyshop.mail.validate_recipient],
                verbose_name="email address",
            ),
        ),
        migrations.RunPython(refuse_shared_addresses, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="users_user_email_unique",
                violation_error_message="An account with this e-mail address exists already.",
            ),
        ),
    ]
