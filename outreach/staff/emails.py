"""Messages to staff (invitations, password resets): sent at once through the email
channel, plain, without the marketing footer or an outbox row."""

from __future__ import annotations

from html import escape

from flask import current_app

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome
from outreach.sending.send import channels


def send_staff_email(to: str, subject: str, text: str, link: str) -> bool:
    """Send one staff message ending with ``link``. True if the channel accepted it."""
    html = "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n"))
    html += f'<p><a href="{escape(link)}">{escape(link)}</a></p>'
    email = EmailBatch(
        from_email=current_app.config["OUTREACH_MAIL_FROM"],
        from_name="Outreach",
        subject=subject,
        html=html,
        text=f"{text}\n\n{link}\n",
        recipients=(EmailRecipient(message_id=0, to=to),),
        categories=("outreach", "staff"),
    )
    email_channel, _ = channels()
    return all(r.outcome == Outcome.SENT for r in email_channel.send_batch(email))
