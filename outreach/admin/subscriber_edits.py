"""Staff changes to one subscriber that are not consent: profile (name, time zone,
language) and asking a pending subscription again to confirm."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import form_str, get_or_404
from outreach.audiences import profiles
from outreach.campaigns import windows
from outreach.consent import confirmations
from outreach.extensions import db
from outreach.i18n import LANGUAGES
from outreach.models import Subscriber, Subscription
from outreach.staff import audit as staff_audit

RESEND_MESSAGES = {
    confirmations.SENT: "Confirmation request sent again.",
    confirmations.DEFERRED: "It is outside this person's hours for texts: the confirmation "
    "request goes out when their window opens.",
    confirmations.NOT_SENT: "Not sent: the address is suppressed or the provider refused it.",
    confirmations.NOT_NEEDED: "This subscription is no longer pending; nothing was sent.",
}


def _form(person: Subscriber, data: dict[str, str], errors: dict[str, str]):  # noqa: ANN202
    return render_template(
        "admin/subscriber_form.html",
        person=person,
        data=data,
        errors=errors,
        languages=LANGUAGES,
        zones=windows.common_zones(),
    )


@bp.route("/subscribers/<int:subscriber_id>/edit", methods=["GET", "POST"])
@editor_required
def subscriber_edit(subscriber_id: int):  # noqa: ANN201
    """Edit a subscriber's name, time zone and language."""
    person = get_or_404(Subscriber, subscriber_id)
    if request.method == "GET":
        data = {"first_name": person.first_name, "timezone": person.timezone,
                "language": person.language}  # fmt: skip
        return _form(person, data, {})
    data = {name: form_str(name) for name in ("first_name", "timezone", "language")}
    try:
        changed = profiles.update_profile(
            person, data["first_name"], data["timezone"], data["language"], current_user.id
        )
    except profiles.ProfileError as exc:
        db.session.rollback()
        return _form(person, data, exc.errors), 422
    db.session.commit()
    flash("Saved: " + ", ".join(c.replace("_", " ") for c in changed) if changed else "No change.")
    return redirect(url_for("admin.subscriber", subscriber_id=person.id), 303)


@bp.post("/subscriptions/<int:subscription_id>/resend-confirmation")
@editor_required
def subscription_resend(subscription_id: int):  # noqa: ANN201
    """Send a pending subscription's confirmation request again."""
    sub = get_or_404(Subscription, subscription_id)
    outcome = confirmations.request_confirmation(sub)
    if outcome != confirmations.NOT_NEEDED:
        staff_audit.audit(
            current_user.id, "subscription.resend_confirmation", "subscription", sub.id, outcome
        )
    db.session.commit()
    flash(RESEND_MESSAGES[outcome], "error" if outcome == confirmations.NOT_SENT else "message")
    return redirect(url_for("admin.subscriber", subscriber_id=sub.subscriber_id), 303)
