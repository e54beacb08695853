"""Public views: thin. Validation, then a call into ``consent``; no business rules here."""

from __future__ import annotations

from flask import abort, current_app, render_template, request, url_for
from sqlalchemy import select

from outreach import consent, dispatch, tokens, windows, wording
from outreach.contacts import InvalidContact, clean_name, normalise_email, normalise_phone
from outreach.extensions import csrf, db, limiter
from outreach.models import Audience, Subscriber, Subscription
from outreach.public import bp
from outreach.public.forms import ConfirmForm, PreferencesForm, SubscribeForm, UnsubscribeForm


def _audience_or_404(slug: str) -> Audience:
    audience = db.session.scalar(select(Audience).filter_by(slug=slug))
    if audience is None:
        abort(404)
    return audience


def _evidence(source: str, wording_text: str | None = None) -> consent.Evidence:
    return consent.Evidence(
        source=source,
        wording=wording_text,
        form_url=request.url[:500],
        ip_address=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:500],
    )


def choose_timezone(browser_tz: str | None, phone: str | None, audience: Audience) -> str:
    """Browser zone if valid, else one derived from the phone number, else the audience's."""
    if browser_tz and windows.is_valid_timezone(browser_tz):
        return browser_tz
    if phone:
        derived = windows.timezone_for_phone(phone)
        if derived:
            return derived
    return audience.default_timezone


@bp.route("/subscribe/<slug>", methods=["GET", "POST"])
@limiter.limit("20 per minute; 200 per hour", methods=["POST"])
def subscribe(slug: str):  # noqa: ANN201
    """The opt-in form."""
    audience = _audience_or_404(slug)
    form = SubscribeForm()
    offered = audience.channel_list
    wordings = {channel: wording.consent_wording(audience, channel) for channel in offered}
    if request.method == "GET":
        return render_template(
            "public/subscribe.html", form=form, audience=audience, wordings=wordings, errors={}
        )
    errors: dict[str, str] = {}
    if not form.validate():
        errors.update({name: "; ".join(msgs) for name, msgs in form.errors.items()})
    chosen = [c for c in offered if getattr(form, f"consent_{c}").data]
    email = phone = None
    if form.email.data and "email" not in errors:
        try:
            email = normalise_email(form.email.data)
        except InvalidContact as exc:
            errors["email"] = str(exc)
    if form.phone.data and "phone" not in errors:
        try:
            phone = normalise_phone(form.phone.data)
        except InvalidContact as exc:
            errors["phone"] = str(exc)
    if not chosen:
        errors["consent"] = "Tick at least one box to choose how we may contact you."
    if "email" in chosen and not form.email.data:
        errors["email"] = "Enter your email address to get emails."
    if "sms" in chosen and not form.phone.data:
        errors["phone"] = "Enter your mobile number to get texts."
    if errors:
        return render_template(
            "public/subscribe.html", form=form, audience=audience, wordings=wordings, errors=errors
        ), 400
    if form.website.data:  # honeypot: a bot filled the hidden field; store nothing
        return render_template("public/check_inbox.html", audience=audience, chosen=chosen)
    signup = consent.Signup(
        audience=audience,
        email=email if "email" in chosen else None,
        phone=phone if "sms" in chosen else None,
        first_name=clean_name(form.first_name.data),
        timezone=choose_timezone(form.timezone.data, phone, audience),
        channels=tuple(chosen),
    )
    evidence = {c: _evidence("web_form", wordings[c]) for c in chosen}
    subscriber, pending = consent.sign_up(signup, evidence)
    db.session.commit()
    for sub in pending:
        link = tokens.LinkToken(subscriber.public_id, audience.slug, sub.channel)
        if sub.channel == "email":
            url = tokens.public_url(url_for("public.confirm", token=tokens.confirm_token(link)))
            dispatch.send_email_confirmation(subscriber, audience, url)
        else:
            dispatch.send_sms_text(subscriber.phone or "", wording.sms_confirmation(audience))
    return render_template("public/check_inbox.html", audience=audience, chosen=chosen)


def _subscription_for(link: tokens.LinkToken) -> tuple[Subscriber, Audience, Subscription | None]:
    subscriber = db.session.scalar(select(Subscriber).filter_by(public_id=link.public_id))
    audience = db.session.scalar(select(Audience).filter_by(slug=link.audience_slug))
    if subscriber is None or audience is None:
        raise tokens.TokenError("This link is no longer valid.")
    sub = db.session.scalar(
        select(Subscription).filter_by(
            subscriber_id=subscriber.id, audience_id=audience.id, channel=link.channel
        )
    )
    return subscriber, audience, sub


def _bad_link(exc: tokens.TokenError):  # noqa: ANN202
    return render_template("public/bad_link.html", expired=exc.expired, message=str(exc)), 400


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def confirm(token: str):  # noqa: ANN201
    """GET shows a button; only the POST confirms."""
    try:
        link = tokens.read_confirm_token(token)
        subscriber, audience, sub = _subscription_for(link)
    except tokens.TokenError as exc:
        return _bad_link(exc)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate():
            return render_template(
                "public/confirm.html",
                form=form,
                audience=audience,
                error="Please press the button again.",
            ), 400
        if sub is not None and sub.state in ("pending", "active"):
            consent.confirm(sub, _evidence("web_form", "Confirmed by following the emailed link"))
            db.session.commit()
        return render_template(
            "public/confirmed.html",
            audience=audience,
            preferences_url=dispatch.personal_links(subscriber.public_id, audience, "email")[
                "preferences_url"
            ],
        )
    return render_template("public/confirm.html", form=form, audience=audience, error=None)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):  # noqa: ANN201
    """GET: a page with one button. POST: unsubscribe (RFC 8058 one-click needs no cookie)."""
    try:
        link = tokens.read_link_token(token, "unsubscribe")
        subscriber, audience, sub = _subscription_for(link)
    except tokens.TokenError as exc:
        return _bad_link(exc)
    form = UnsubscribeForm()
    if request.method == "GET":
        return render_template("public/unsubscribe.html", form=form, audience=audience, done=False)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if one_click:
        if sub is not None:
            consent.revoke(sub, _evidence("one_click", "List-Unsubscribe=One-Click"))
            db.session.commit()
        return "You have been unsubscribed.", 200, {"Content-Type": "text/plain; charset=utf-8"}
    csrf.protect()
    if form.everything.data:
        for channel in ("email", "sms"):
            consent.opt_out_everywhere(
                subscriber, channel, _evidence("preference_page", "Unsubscribe from everything")
            )
    elif sub is not None:
        consent.revoke(sub, _evidence("preference_page", "Unsubscribe button"))
    db.session.commit()
    return render_template(
        "public/unsubscribe.html",
        form=form,
        audience=audience,
        done=True,
        everything=form.everything.data,
    )


@bp.route("/preferences/<token>", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
def preferences(token: str):  # noqa: ANN201
    """Channels, audiences and time zone for one subscriber."""
    try:
        link = tokens.read_link_token(token, "preferences")
        subscriber, audience, _ = _subscription_for(link)
    except tokens.TokenError as exc:
        return _bad_link(exc)
    form = PreferencesForm()
    subs = list(
        db.session.scalars(
            select(Subscription).filter_by(subscriber_id=subscriber.id).order_by(Subscription.id)
        )
    )
    error = None
    saved = False
    if request.method == "POST":
        if not form.validate():
            return render_template(
                "public/preferences.html",
                form=form,
                subs=subs,
                subscriber=subscriber,
                error="Please try again.",
                saved=False,
                zones=_zones(),
            ), 400
        tz = (form.timezone.data or "").strip()
        if tz and not windows.is_valid_timezone(tz):
            error = "Choose a time zone from the list."
        else:
            if tz:
                subscriber.timezone = tz
            wanted = set(request.form.getlist("keep"))
            for sub in subs:
                key = str(sub.id)
                if sub.state in ("active", "pending") and key not in wanted:
                    consent.revoke(sub, _evidence("preference_page", "Unticked on preferences"))
                elif sub.state == "unsubscribed" and key in wanted:
                    if sub.channel == "email":
                        consent.confirm(sub, _evidence("preference_page", "Ticked on preferences"))
                    else:
                        consent.request_consent(
                            subscriber,
                            sub.audience,
                            "sms",
                            _evidence(
                                "preference_page", wording.consent_wording(sub.audience, "sms")
                            ),
                        )
                        dispatch.send_sms_text(
                            subscriber.phone or "", wording.sms_confirmation(sub.audience)
                        )
            db.session.commit()
            saved = True
    current_app.logger.debug("preferences page for audience %s", audience.slug)
    return render_template(
        "public/preferences.html",
        form=form,
        subs=subs,
        subscriber=subscriber,
        error=error,
        saved=saved,
        zones=_zones(),
    ), 400 if error else 200


def _zones() -> list[str]:
    """Every IANA zone name, for the time zone picker."""
    from zoneinfo import available_timezones

    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
