"""Attach the commands to an app; the installed ``outreach`` command."""

from __future__ import annotations

import sys

from flask import Flask
from flask.cli import ScriptInfo

from outreach.cli.group import outreach_cli


def register_cli(app: Flask) -> None:
    """Attach the ``outreach`` command group (every command module) to an app."""
    from outreach.cli import importing, privacy, sending, setup  # noqa: F401  (they register)
    from outreach.cli.campaign import campaign_cli

    if "campaign" not in outreach_cli.commands:
        outreach_cli.add_command(campaign_cli)
    app.cli.add_command(outreach_cli)


def main() -> None:
    """Entry point of the installed ``outreach`` command (same as ``flask outreach``)."""
    from outreach import create_app
    from outreach.config import ConfigError

    try:
        app = create_app()
    except ConfigError as exc:
        raise SystemExit(f"outreach: {exc}") from None
    outreach_cli.main(
        args=sys.argv[1:], prog_name="outreach", obj=ScriptInfo(create_app=lambda: app)
    )
