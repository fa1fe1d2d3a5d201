#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "babyshop.settings")
    from django.core.management import execute_from_command_line

    from babyshop.config import reported

    # A configuration mistake is the user's to fix: one line, no traceback.
    with reported():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
