"""Helpers for the public-page tests: row counts, the dev mailbox, links, form posts."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from outreach.consent import tokens
from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import ConsentEvent, Message, Subscriber, Subscription, Suppression
from tests.helpers import submit_form

SLUG = "migraine-awareness"
FORM = f"/subscribe/{SLUG}"
CONFIRM_PATH = re.compile(r"https?://[^/\s\"]+(/confirm/[^\"\s<>]+)")


def counts() -> dict[str, int]:
    """Rows in every table a public page may write to, plus messages in the dev mailbox."""
    found = {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Subscriber, Subscription, ConsentEvent, Suppression, Message)
    }
    found["mailbox"] = len(mailbox())
    db.session.rollback()  # end the read transaction: never hold a snapshot between requests
    return found


def mailbox(kind: str | None = None) -> list[dict[str, Any]]:
    """Messages the console channels recorded, newest first."""
    found = console_mailbox.recent_messages(limit=100_000)
    return [m for m in found if kind is None or m["kind"] == kind]


def confirm_path(to: str) -> str:
    """The path of the newest confirmation link emailed to ``to``."""
    for message in mailbox("email"):
        if message["to"] == to:
            match = CONFIRM_PATH.search(message["html"])
            if match:
                return match.group(1)
    raise AssertionError(f"no confirmation email to {to}")


def subscribe(client, **fields: str):  # noqa: ANN001, ANN201
    """Fill in and send the opt-in form like a browser (CSRF token included)."""
    return submit_form(client, FORM, fields)


def subscriber(email: str | None = None, phone: str | None = None) -> Subscriber:
    """The stored subscriber with this email (or phone)."""
    db.session.expire_all()
    found = db.session.scalar(
        select(Subscriber).filter_by(**({"email": email} if email else {"phone": phone}))
    )
    assert found is not None, "subscriber not stored"
    return found


def states(person: Subscriber) -> dict[tuple[str, str], str]:
    """{(audience slug, channel): state} for one subscriber, fresh from the database."""
    db.session.expire_all()
    rows = db.session.scalars(select(Subscription).filter_by(subscriber_id=person.id))
    return {(s.audience.slug, s.channel): s.state for s in rows}


def link(person: Subscriber, purpose: str, channel: str = "email", slug: str = SLUG) -> str:
    """The path of a personal link: ``confirm``, ``unsubscribe`` or ``preferences``."""
    target = tokens.LinkToken(person.public_id, slug, channel)
    token = (
        tokens.confirm_token(target) if purpose == "confirm" else tokens.link_token(target, purpose)
    )
    return f"/{purpose}/{token}"
