"""``GET, POST /request/<audience-slug>``: "Request a free consultation". Thin: the rules
(what a request needs, attribution, the optional emails box) are in ``consultations``.

The tracked link's code arrives as ``?via=<code>`` (see ``consultations.attribution``); a
genuine one goes into a hidden field and a 30-day first-party cookie. The answer after a
POST is the same for everyone (new person, known subscriber, bot in the honeypot).
"""

from __future__ import annotations

from flask import make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from outreach.clock import now as clock_now
from outreach.consent import wording
from outreach.consultations import attribution
from outreach.consultations import requests as consultation_requests
from outreach.extensions import csrf, limiter
from outreach.i18n import N_
from outreach.models import Audience
from outreach.models.consultations import CONTACT_TIMES
from outreach.public import bp
from outreach.public.forms import HONEYPOT_FIELD, RequestForm
from outreach.public.language import page_language
from outreach.public.views import SESSION_EXPIRED, _audience_or_404, _evidence, _say

#: Per-IP limit (Flask-Limiter); only POSTs count.
REQUEST_LIMIT = "10 per minute; 60 per hour"
#: The box's own words; the consent wording the ledger records is shown beneath them.
ALSO_EMAILS = N_("Also send me the clinic's migraine awareness emails")
CONTACT_TIME_NAMES = {
    "any": N_("Any time"),
    "morning": N_("Morning"),
    "afternoon": N_("Afternoon"),
    "evening": N_("Evening"),
}
COOKIE_MAX_AGE = int(attribution.WINDOW.total_seconds())


def _page(
    audience: Audience, form: RequestForm, errors: dict[str, str], via: str | None, status: int
) -> ResponseReturnValue:
    return render_template(
        "public/request.html",
        form=form,
        audience=audience,
        errors=errors,
        via=via or "",
        times=[(key, gettext(CONTACT_TIME_NAMES[key])) for key in CONTACT_TIMES],
        also_label=gettext(ALSO_EMAILS),
        email_wording=wording.consent_wording(audience, "email", page_language())
        if "email" in audience.channel_list
        else None,
        note_limit=consultation_requests.NOTE_LIMIT,
    ), status


def _received(audience: Audience, also_emails: bool) -> ResponseReturnValue:
    """The one answer to every accepted (or silently dropped) submission."""
    return render_template("public/request_received.html", audience=audience, emails=also_emails)


def _remember(response, code: str | None):  # noqa: ANN001, ANN202
    """Keep a genuine code for 30 days (first-party, this page only): the last touch."""
    if code:
        response.set_cookie(
            attribution.COOKIE,
            code,
            max_age=COOKIE_MAX_AGE,
            path=attribution.COOKIE_PATH,
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )
    return response


@bp.route("/request/<slug>", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(REQUEST_LIMIT, methods=["POST"])
def consultation_request(slug: str) -> ResponseReturnValue:
    """The consultation request page."""
    audience = _audience_or_404(slug)
    form = RequestForm()
    if request.method == "GET":
        via = attribution.genuine(request.args.get(attribution.VIA))
        return _remember(make_response(_page(audience, form, {}, via, 200)), via)
    via = attribution.genuine(form.via.data)
    form.validate()
    if "csrf_token" in form.errors:
        return _page(audience, form, {"form": gettext(SESSION_EXPIRED)}, via, 400)
    if request.form.get(HONEYPOT_FIELD):  # a bot filled the hidden field: store nothing
        return _received(audience, bool(form.also_emails.data))
    typed = consultation_requests.Typed(
        name=(form.name.data or "")[:400],
        email=(form.email.data or "")[:320],
        phone=(form.phone.data or "")[:32],
        contact_time=form.contact_time.data or "any",
        note=(form.note.data or "")[:3000],
        also_emails=bool(form.also_emails.data),
    )
    checked, problems = consultation_requests.check(typed, audience)
    if checked is None:
        return _page(audience, form, {k: _say(v) for k, v in problems.items()}, via, 400)
    language = page_language()
    consultation_requests.submit(
        audience,
        checked,
        language=language,
        attribution=attribution.attribute(
            [via, request.cookies.get(attribution.COOKIE)], clock_now()
        ),
        email_evidence=_evidence(
            "web_form",
            wording.consent_wording(audience, "email", language),
            note="consultation request form",
        )
        if checked.also_emails
        else None,
        browser_timezone=form.timezone.data,
    )
    return _received(audience, checked.also_emails)
