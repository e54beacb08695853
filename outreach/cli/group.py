"""The ``flask outreach`` command group and what its commands share."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup
from sqlalchemy import select

from outreach.extensions import db
from outreach.models import Campaign

outreach_cli = AppGroup("outreach", help="Outreach operations.")


def find_campaign(ref: str) -> Campaign:
    campaign = (
        db.session.get(Campaign, int(ref))
        if ref.isdigit()
        else db.session.scalar(select(Campaign).filter_by(name=ref))
    )
    if campaign is None:
        raise click.ClickException(f"No campaign {ref!r}.")
    return campaign


def wait_for_database(seconds: float = 30.0) -> None:
    """Block until the database answers (used by workers starting with the database)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.session.execute(select(1))
            return
        except Exception:  # noqa: BLE001
            db.session.rollback()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
