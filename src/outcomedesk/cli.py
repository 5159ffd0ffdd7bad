"""The `outcomedesk` command: Django's management commands with Outcomedesk's settings.

Commands of our own: serve, createuser, token, demo, import, search_index (see `outcomedesk help`).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomedesk.config.settings")
    from django.core.management import execute_from_command_line

    from outcomedesk.config.env import ConfigError

    args = sys.argv[1:] if argv is None else argv
    try:
        execute_from_command_line(["outcomedesk", *args])
    except ConfigError as exc:
        sys.stderr.write(f"outcomedesk: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
