#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "babyshop.settings")
    from django.core.management import execute_from_command_line

    from babyshop.config import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as exc:
        # A configuration mistake is the user's to fix: one line, no traceback.
        sys.exit(f"configuration error: {exc}")


if __name__ == "__main__":
    main()
