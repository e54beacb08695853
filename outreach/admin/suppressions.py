"""The suppression list page: search, filter, and lifting what staff may lift (with a
reason that goes into the consent ledger)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import confirmed, form_str, get_or_404
from outreach.consent import suppression_list
from outreach.extensions import db
from outreach.models import Suppression


@bp.get("/suppressions")
@login_required
def suppressions():  # noqa: ANN201
    """Addresses never contacted again on a channel, newest first."""
    query = (request.args.get("q") or "").strip()[:320]
    reason = request.args.get("reason", "")
    channel = request.args.get("channel", "")
    page = suppression_list.find(query, reason, channel, request.args.get("before", type=int))
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "admin/suppressions.html",
        rows=page.rows,
        query=query,
        reason=reason,
        channel=channel,
        reasons=suppression_list.reasons_present(),
        labels=suppression_list.REASON_LABELS,
        removable=suppression_list.removable,
        next_url=url_for("admin.suppressions", **args, before=page.next_before)
        if page.next_before
        else None,
    )


@bp.route("/suppressions/<int:suppression_id>/remove", methods=["GET", "POST"])
@editor_required
def suppression_remove(suppression_id: int):  # noqa: ANN201
    """Lift a hard bounce or manual entry, after a confirmation with a reason."""
    row = get_or_404(Suppression, suppression_id)
    back = url_for("admin.suppressions", q=row.address or None)
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/confirm.html",
            title="Contact this address again?",
            message=f"{row.address or 'This address'} ({row.channel}) is suppressed: "
            f"{suppression_list.REASON_LABELS.get(row.reason, row.reason)}. Removing it lets "
            "campaigns reach it again if the person is still subscribed; the reason goes into "
            "their consent ledger.",
            action=url_for("admin.suppression_remove", suppression_id=row.id),
            button="Remove from the suppression list",
            danger=True,
            reason=True,
            reason_label="Why may it be contacted again? (kept in the consent ledger)",
            reason_placeholder="Mailbox fixed after the clinic's mail server move",
            back=back,
        )
    try:
        suppression_list.remove(row, form_str("reason"), current_user.id)
    except suppression_list.RemovalRefused as exc:
        db.session.rollback()
        flash(f"Not removed: {exc}.", "error")
        return redirect(back, 303)
    db.session.commit()
    flash("Removed from the suppression list; the reason is in the consent ledger.")
    return redirect(url_for("admin.suppressions"), 303)
