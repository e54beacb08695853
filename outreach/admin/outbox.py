"""Staff pages for the outbox: rows by state with their reconciliation history, and an
admin's hand settlement of an ``unknown`` row (mark sent, re-queue) behind a confirmation.
Views parse input and call ``results.outbox`` and ``sending.settle``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import admin_required
from outreach.admin.common import confirmed, form_str, get_or_404
from outreach.extensions import db
from outreach.models import Campaign, Message
from outreach.results import outbox
from outreach.sending import settle

#: The two hand moves: (confirmation title, explanation, button, service call).
MOVES = {
    "mark-sent": (
        "Mark message {id} as sent?",
        "Do this only after checking with the provider (SendGrid Activity, Twilio Messaging "
        "Logs) that it went out. The row becomes sent and will never be sent again.",
        "Mark as sent",
        settle.mark_sent,
    ),
    "requeue": (
        "Send message {id} again?",
        "Do this only after checking with the provider that it never went out. The row goes "
        "back in the queue, due now; consent, quiet hours and caps are checked again before "
        "it is sent.",
        "Re-queue",
        settle.requeue,
    ),
}


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


@bp.get("/outbox")
@login_required
def outbox_rows():  # noqa: ANN201
    """Outbox rows in one state (default ``unknown``), each with its history."""
    state = request.args.get("state", "unknown")
    if state not in outbox.LISTED_STATES:
        abort(404)
    campaign_id = _int_arg("campaign")
    channel = request.args.get("channel") or None
    page = outbox.listing(state, campaign_id, channel, _int_arg("page") or 1)
    campaign = db.session.get(Campaign, campaign_id) if campaign_id else None
    return render_template(
        "admin/outbox.html",
        listing=page,
        state=state,
        states=outbox.LISTED_STATES,
        channel=channel or "",
        campaign=campaign,
        campaign_id=campaign_id,
    )


@bp.route("/outbox/<int:message_id>/<move>", methods=["GET", "POST"])
@admin_required
def outbox_settle(message_id: int, move: str):  # noqa: ANN201
    """Settle one ``unknown`` row by hand, after a confirmation page; audit-logged."""
    if move not in MOVES:
        abort(404)
    message = get_or_404(Message, message_id)
    back = url_for("admin.outbox_rows", state="unknown", campaign=message.campaign_id)
    if message.state != "unknown":
        flash(f"Message {message.id} is {message.state} now, not unknown: nothing to do.", "error")
        return redirect(back, 303)
    title, explanation, button, call = MOVES[move]
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/confirm.html",
            title=title.format(id=message.id),
            message=explanation,
            action=url_for("admin.outbox_settle", message_id=message.id, move=move),
            button=button,
            danger=move == "requeue",
            reason=True,
            reason_label="What did you check? (kept in the row's history and the audit log)",
            reason_placeholder="Twilio logs show no message to this number on 2 June",
            back=back,
        )
    try:
        call(message, current_user.id, form_str("reason")[:300])
    except settle.NotUnknown:
        flash(f"Message {message.id} was settled meanwhile: nothing changed.", "error")
        return redirect(back, 303)
    flash(f"Message {message.id} {'marked as sent' if move == 'mark-sent' else 're-queued'}.")
    return redirect(back, 303)
