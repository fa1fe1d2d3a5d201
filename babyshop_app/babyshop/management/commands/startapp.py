from pathlib import Path

from django.core.management.commands.startapp import Command as StartAppCommand


class Command(StartAppCommand):
    """startapp, from this project's app template unless --template names
    another: Django's own has unused imports and single quotes, which make
    lint refuses, and a TestCase where this project's tests are pytest's."""

    def handle(self, **options):
        options["template"] = options["template"] or str(Path(__file__).parents[2] / "app_template")
        super().handle(**options)
