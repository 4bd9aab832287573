#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

On a development checkout it first reads `.env.local` (written once by `make`, git-ignored:
DJANGO_DEBUG=1, a random DJANGO_SECRET_KEY, the local ml-100k folder) for variables the
environment does not set; see `movierec.env.load_local_env`.
"""

import os
import sys
from pathlib import Path


def main() -> None:
    from movierec.env import load_local_env

    load_local_env(Path(__file__).resolve().parent / ".env.local")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
