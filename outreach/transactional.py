"""Messages sent at once, outside campaigns (no outbox row): the double opt-in
confirmation email and text."""

from __future__ import annotations

from outreach import i18n
from outreach.channels.base import EmailRecipient, Outcome, OutgoingSms
from outreach.consent import suppression
from outreach.models import Audience, Subscriber
from outreach.rendering import emails
from outreach.sending import compose
from outreach.sending.send import channels


def send_email_confirmation(subscriber: Subscriber, audience: Audience, confirm_url: str) -> bool:
    """Send the double opt-in email (transactional: no outbox row). True if accepted."""
    if suppression.is_suppressed("email", subscriber.email):
        return False
    _ = i18n.gettext_for(subscriber.language)
    html = (
        "<h1>"
        + _("Please confirm your subscription")
        + "</h1><p>"
        + _(
            "Hi {{ first_name or 'there' }}, you asked to receive {{ audience }} emails from "
            "{{ organisation or audience }}. Press the button below to confirm."
        )
        + "</p>"
        + '<p><a class="button" href="{{ confirm_url }}">'
        + _("Confirm my subscription")
        + "</a></p>"
        + "<p>"
        + _("If you did not ask for this, ignore this email and nothing will happen.")
        + "</p>"
    )
    links = compose.personal_links(subscriber.public_id, audience, "email")
    rendered = emails.render_email(
        subject=_("Confirm your subscription to {{ audience }}"),
        preheader=_("One click to confirm."),
        html=html,
        text=None,
        context={
            **compose.shared_context(audience),
            "first_name": subscriber.first_name or "",
            "confirm_url": confirm_url,
        },
        footer={
            "organisation": audience.organisation_name or audience.name,
            "postal_address": audience.postal_address or "-",
            "support_email": audience.support_email,
            **links,
        },
        language=subscriber.language,
    )
    to = EmailRecipient(message_id=0, to=subscriber.email or "")
    email = compose.email_batch(audience, rendered, [to], categories=("outreach", "confirmation"))
    email_channel, _ = channels()
    results = email_channel.send_batch(email)
    return all(r.outcome == Outcome.SENT for r in results)


def send_sms_text(phone: str, body: str) -> bool:
    """Send one transactional text (confirmation request). True if accepted."""
    if suppression.is_suppressed("sms", phone):
        return False
    _, sms_channel = channels()
    results = sms_channel.send_many([OutgoingSms(message_id=0, to=phone, body=body)])
    return all(r.outcome == Outcome.SENT for r in results)
