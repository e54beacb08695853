"""Public views: thin. Validation, then a call into ``consent``; no business rules here.

CSRF: every form here carries a Flask-WTF token. The views are exempt from the global
check and validate the token themselves (``form.validate()``), so a stale token shows the
page again with a clear message and a 400 instead of a bare error page. The one exception
is the RFC 8058 one-click unsubscribe POST, which by design has no cookie and no token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from outreach.audiences import zone_picker
from outreach.audiences.contacts import InvalidContact, clean_name, normalise_email, normalise_phone
from outreach.consent import ledger as consent_ledger
from outreach.consent import preferences as preferences_service
from outreach.consent import signup as signups
from outreach.consent import subscriptions, tokens, wording
from outreach.extensions import csrf, db, limiter
from outreach.i18n import LANGUAGE_NAMES, N_, language_or_none
from outreach.models import Audience, Subscriber, Subscription
from outreach.public import bp
from outreach.public.forms import (
    HONEYPOT_FIELD,
    ConfirmForm,
    PreferencesForm,
    SubscribeForm,
    UnsubscribeForm,
)
from outreach.public.language import page_language, use_language
from outreach.sending import compose

log = logging.getLogger(__name__)

#: Per-IP limits (Flask-Limiter); only POSTs count.
SUBSCRIBE_LIMIT = "20 per minute; 200 per hour"
CONFIRM_LIMIT = "30 per minute; 300 per hour"
PREFERENCES_LIMIT = "30 per minute"

SESSION_EXPIRED = N_("Your session expired. Please check the form and send it again.")
EVERYTHING = N_("Unsubscribe me from everything (emails and texts)")
STATE_NAMES = {
    "active": N_("active"),
    "pending": N_("waiting for your confirmation"),
    "unsubscribed": N_("unsubscribed"),
    "bounced": N_("bounced"),
    "complained": N_("reported as spam"),
}


def _say(exc: Exception) -> str:
    """A service's message to the visitor, in the page's language."""
    reason = getattr(exc, "reason", None)
    if reason is not None:
        return f"{gettext(reason)} {exc.detail}".strip()
    return gettext(str(exc))


def _text(value: str | None, limit: int) -> str | None:
    """A request-supplied string made safe to store: no NUL bytes, at most ``limit`` chars."""
    if not value:
        return None
    return value.replace("\x00", "")[:limit] or None


def _evidence(
    source: str, wording_text: str | None = None, note: str | None = None
) -> consent_ledger.Evidence:
    """The evidence a public page can give: wording shown, form URL, IP, user agent."""
    return consent_ledger.Evidence(
        source=source,
        wording=wording_text,
        form_url=_text(request.url, 500),
        ip_address=_text(request.remote_addr, 64),
        user_agent=_text(request.user_agent.string, 500),
        note=note,
    )


def _audience_or_404(slug: str) -> Audience:
    if not slug or len(slug) > 80 or "\x00" in slug:
        abort(404)
    audience = db.session.scalar(select(Audience).filter_by(slug=slug))
    if audience is None:
        abort(404)
    return audience


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> ResponseReturnValue:
    """A safety net: any CSRF failure on a public page is a clear 400 page."""
    return render_template(
        "public/message.html",
        title=gettext("Please try again"),
        message=gettext("Your session expired. Please go back, reload the page and try again."),
    ), 400


@bp.errorhandler(429)
def _too_many(exc: Exception) -> ResponseReturnValue:
    """Flask-Limiter's 429 as a friendly page; Retry-After is added by the limiter."""
    return render_template(
        "public/message.html",
        title=gettext("Slow down a little"),
        message=gettext(
            "You've tried that a few times in a short while. Please wait a minute and try again."
        ),
    ), 429


# --------------------------------------------------------------------------- subscribe


@dataclass
class _Checked:
    """A subscribe submission after validation."""

    errors: dict[str, str]
    chosen: list[str]
    email: str | None = None
    phone: str | None = None


def _check_subscription(form: SubscribeForm, offered: list[str]) -> _Checked:
    """Field errors and normalised contacts for a submitted form (CSRF already checked)."""
    errors = {
        name: " ".join(messages)
        for name, messages in form.errors.items()
        if name in ("email", "phone", "first_name")
    }
    checked = _Checked(errors, [c for c in offered if getattr(form, f"consent_{c}").data])
    raw_email = (form.email.data or "").strip()
    raw_phone = (form.phone.data or "").strip()
    if raw_email and "email" not in errors:
        try:
            checked.email = normalise_email(raw_email)
        except InvalidContact as exc:
            errors["email"] = _say(exc)
    if raw_phone and "phone" not in errors:
        try:
            checked.phone = normalise_phone(raw_phone)
        except InvalidContact as exc:
            errors["phone"] = _say(exc)
    if not checked.chosen:
        errors["consent"] = gettext("Tick at least one box to choose how we may contact you.")
    if "email" in checked.chosen and not raw_email:
        errors["email"] = gettext("Enter your email address to get emails.")
    if "sms" in checked.chosen and not raw_phone:
        errors["phone"] = gettext("Enter your mobile number to get text messages.")
    return checked


def _subscribe_page(
    audience: Audience, form: SubscribeForm, errors: dict[str, str], status: int
) -> ResponseReturnValue:
    language = page_language()
    wordings = {c: wording.consent_wording(audience, c, language) for c in audience.channel_list}
    return render_template(
        "public/subscribe.html", form=form, audience=audience, wordings=wordings, errors=errors
    ), status


def _thank_you(audience: Audience, chosen: list[str]) -> ResponseReturnValue:
    """The same answer for new, existing and honeypot submissions (no enumeration)."""
    return render_template("public/check_inbox.html", audience=audience, chosen=chosen)


@bp.route("/subscribe/<slug>", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(SUBSCRIBE_LIMIT, methods=["POST"])
def subscribe(slug: str) -> ResponseReturnValue:
    """The opt-in form: one unticked box per channel, each with its exact wording."""
    audience = _audience_or_404(slug)
    form = SubscribeForm()
    if request.method == "GET":
        return _subscribe_page(audience, form, {}, 200)
    form.validate()
    if "csrf_token" in form.errors:
        return _subscribe_page(audience, form, {"form": gettext(SESSION_EXPIRED)}, 400)
    offered = audience.channel_list
    if request.form.get(HONEYPOT_FIELD):  # a bot filled the hidden field: store nothing
        return _thank_you(audience, [c for c in offered if request.form.get(f"consent_{c}")])
    checked = _check_subscription(form, offered)
    if checked.errors:
        return _subscribe_page(audience, form, checked.errors, 400)
    language = page_language()
    evidence = {
        c: _evidence("web_form", wording.consent_wording(audience, c, language))
        for c in checked.chosen
    }
    signups.sign_up_from_form(
        audience,
        email=checked.email,
        phone=checked.phone,
        chosen=checked.chosen,
        first_name=clean_name(form.first_name.data),
        browser_timezone=form.timezone.data,
        evidence=evidence,
        language=language,
    )
    return _thank_you(audience, checked.chosen)


# --------------------------------------------------------------------------- links


def _subscription_for(link: tokens.LinkToken) -> tuple[Subscriber, Audience, Subscription | None]:
    subscriber = db.session.scalar(select(Subscriber).filter_by(public_id=link.public_id))
    audience = db.session.scalar(select(Audience).filter_by(slug=link.audience_slug))
    if subscriber is None or audience is None or subscriber.erased_at is not None:
        raise tokens.TokenError(N_("This link is no longer valid."))
    sub = db.session.scalar(
        select(Subscription).filter_by(
            subscriber_id=subscriber.id, audience_id=audience.id, channel=link.channel
        )
    )
    return subscriber, audience, sub


def _bad_link(exc: tokens.TokenError) -> ResponseReturnValue:
    return render_template("public/bad_link.html", expired=exc.expired, message=_say(exc)), 400


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(CONFIRM_LIMIT, methods=["POST"])
def confirm(token: str) -> ResponseReturnValue:
    """GET shows a button; only the POST confirms, so link scanners cannot."""
    try:
        link = tokens.read_confirm_token(token)
        subscriber, audience, sub = _subscription_for(link)
        if link.channel != "email" or sub is None or sub.state not in ("pending", "active"):
            raise tokens.TokenError(
                N_(
                    "This confirmation link is no longer valid: the subscription changed "
                    "after it was sent."
                )
            )
    except tokens.TokenError as exc:
        return _bad_link(exc)
    use_language(subscriber.language)
    form = ConfirmForm()
    if request.method == "GET":
        if sub.state == "active":  # a used link: say so, nothing to press
            return _confirmed_page(subscriber, audience, already=True)
        return render_template("public/confirm.html", form=form, audience=audience, error=None)
    if not form.validate():
        return render_template(
            "public/confirm.html", form=form, audience=audience, error=gettext(SESSION_EXPIRED)
        ), 400
    if sub.state == "pending":
        subscriptions.confirm(
            sub,
            _evidence(
                "web_form",
                wording.consent_wording(audience, "email", page_language()),
                note="confirmed by pressing the button behind the emailed link",
            ),
        )
        db.session.commit()
    return _confirmed_page(subscriber, audience, already=False)


def _confirmed_page(subscriber: Subscriber, audience: Audience, already: bool) -> str:
    """ "You're subscribed" (or, for a link used before, "already confirmed")."""
    links = compose.personal_links(subscriber.public_id, audience, "email")
    return render_template(
        "public/confirmed.html",
        audience=audience,
        preferences_url=links["preferences_url"],
        already=already,
    )


def _is_one_click() -> bool:
    """RFC 8058: the body ``List-Unsubscribe=One-Click`` (form-encoded or multipart)."""
    return request.form.get("List-Unsubscribe", "").strip().lower() == "one-click"


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str) -> ResponseReturnValue:
    """GET: a page with one button. POST: unsubscribe (RFC 8058 one-click needs no cookie)."""
    try:
        link = tokens.read_link_token(token, "unsubscribe")
        subscriber, audience, sub = _subscription_for(link)
    except tokens.TokenError as exc:
        return _bad_link(exc)
    if request.method == "POST" and _is_one_click():
        if sub is not None:
            subscriptions.revoke(sub, _evidence("one_click", "List-Unsubscribe=One-Click"))
            db.session.commit()
        return "You have been unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8"}
    use_language(subscriber.language)
    form = UnsubscribeForm()
    label = gettext(EVERYTHING)
    page = {"form": form, "audience": audience, "channel": link.channel, "everything_label": label}
    if request.method == "GET":
        return render_template("public/unsubscribe.html", done=False, error=None, **page)
    if not form.validate():
        return render_template(
            "public/unsubscribe.html", done=False, error=gettext(SESSION_EXPIRED), **page
        ), 400
    if form.everything.data:
        evidence = _evidence("preference_page", label, note="unsubscribe page")
    else:
        evidence = _evidence("preference_page", "Unsubscribe button", note="unsubscribe page")
    preferences_service.unsubscribe(
        subscriber, sub, everything=bool(form.everything.data), evidence=evidence
    )
    return render_template(
        "public/unsubscribe.html", done=True, error=None, everything=form.everything.data, **page
    )


# --------------------------------------------------------------------------- preferences


def _mask(subscriber: Subscriber) -> dict[str, str]:
    """Contacts shown on the page, partly hidden (the link may be forwarded)."""
    shown = {}
    if subscriber.email:
        local, _, domain = subscriber.email.partition("@")
        shown["email"] = f"{local[:1]}***@{domain}"
    if subscriber.phone:
        shown["sms"] = f"***{subscriber.phone[-4:]}"
    return shown


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(PREFERENCES_LIMIT, methods=["POST"])
def preferences(token: str) -> ResponseReturnValue:
    """Channels, audiences and time zone for one subscriber; every consent change ledgered."""
    try:
        link = tokens.read_link_token(token, "preferences")
        subscriber, _, _ = _subscription_for(link)
    except tokens.TokenError as exc:
        return _bad_link(exc)
    shown_language = language_or_none(request.form.get("shown_language")) or "en"
    use_language(subscriber.language)
    form = PreferencesForm()
    error = None
    notices: list[str] = []
    saved = False
    if request.method == "POST":
        tz = (form.timezone.data or "").strip() if form.validate() else ""
        if "csrf_token" in form.errors:
            error = gettext(SESSION_EXPIRED)
        elif form.errors:
            error = gettext("Choose a time zone from the list.")
        else:
            try:
                notices = preferences_service.update_preferences(
                    subscriber,
                    {v for v in request.form.getlist("keep") if isinstance(v, str)},
                    timezone=tz,
                    link_channel=link.channel,
                    evidence_for=lambda shown, note: _evidence("preference_page", shown, note),
                    language=language_or_none(request.form.get("language")),
                    shown_language=shown_language,
                )
                saved = True
                use_language(subscriber.language)
            except preferences_service.PreferencesError as exc:
                error = _say(exc)
    subs = preferences_service.subscriptions_of(subscriber)
    return render_template(
        "public/preferences.html",
        form=form,
        subs=subs,
        key=preferences_service.key,
        subscriber=subscriber,
        contacts=_mask(subscriber),
        state_names={state: gettext(name) for state, name in STATE_NAMES.items()},
        languages=LANGUAGE_NAMES,
        language=page_language(),
        wording=wording.consent_wording,
        error=error,
        saved=saved,
        notices=notices,
        zone_groups=zone_picker.zone_groups(subscriber.timezone),
    ), 400 if error else 200
