"""What a subscriber changes from their own links: the preferences page and the
unsubscribe page. Every change is a ledger row with the wording the person saw."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from outreach.campaigns import windows
from outreach.consent import confirmations, subscriptions, wording
from outreach.consent.ledger import Evidence
from outreach.extensions import db
from outreach.i18n import LANGUAGES, N_
from outreach.models import Subscriber, Subscription

#: Builds the evidence of a page action from the wording shown and a note.
EvidenceFor = Callable[[str, str], Evidence]


class PreferencesError(ValueError):
    """The submitted preferences cannot be saved (nothing was changed)."""


def key(sub: Subscription) -> str:
    """A subscription's checkbox value: audience slug and channel, never a database id."""
    return f"{sub.audience.slug}:{sub.channel}"


def subscriptions_of(subscriber: Subscriber) -> list[Subscription]:
    """Every subscription of one person, in the order they were made."""
    return list(
        db.session.scalars(
            select(Subscription).filter_by(subscriber_id=subscriber.id).order_by(Subscription.id)
        )
    )


def update_preferences(
    subscriber: Subscriber,
    wanted: set[str],
    *,
    timezone: str,
    link_channel: str,
    evidence_for: EvidenceFor,
    language: str | None = None,
    shown_language: str = "en",
) -> list[str]:
    """Save the preferences page; commits. Unticked subscriptions are revoked; ticked
    withdrawn ones come back: email at once when the link came to that inbox, otherwise
    after a confirmation (texts always need a YES reply). Returns the channels that now
    wait for a confirmation message. ``language`` (``en``/``es``) is stored when given; the
    ledger records the wording in ``shown_language``, the page's language the person read.
    Raises PreferencesError for an unknown zone."""
    if timezone and not windows.is_valid_timezone(timezone):
        raise PreferencesError(N_("Choose a time zone from the list."))
    if timezone:
        subscriber.timezone = timezone
    if language in LANGUAGES:
        subscriber.language = language
    waiting = []
    for sub in subscriptions_of(subscriber):
        shown = wording.consent_wording(sub.audience, sub.channel, shown_language)
        if sub.state in ("active", "pending") and key(sub) not in wanted:
            subscriptions.revoke(sub, evidence_for(shown, "unticked on the preferences page"))
        elif sub.state == "unsubscribed" and key(sub) in wanted:
            evidence = evidence_for(shown, "ticked on the preferences page")
            if sub.channel == "email" and link_channel == "email":
                subscriptions.confirm(sub, evidence)  # the link came to this inbox: proof enough
            else:
                subscriptions.request_consent(subscriber, sub.audience, sub.channel, evidence)
                waiting.append(sub)
    db.session.commit()
    for sub in waiting:
        confirmations.request_confirmation(sub)
    db.session.commit()
    return [sub.channel for sub in waiting]


def unsubscribe(
    subscriber: Subscriber,
    sub: Subscription | None,
    *,
    everything: bool,
    evidence: Evidence,
) -> None:
    """The unsubscribe page: this list on this channel, or every list on every channel;
    commits."""
    if everything:
        for channel in ("email", "sms"):
            subscriptions.opt_out_everywhere(subscriber, channel, evidence)
    elif sub is not None:
        subscriptions.revoke(sub, evidence)
    db.session.commit()
