"""JSON API v1 views: thin. Parse and validate, call a service, shape the answer."""

from __future__ import annotations

from flask import Response, jsonify
from sqlalchemy import select

from outreach.api import bp
from outreach.api.common import (
    ApiError,
    actor_note,
    api_error_response,
    choice_arg,
    current_token,
    int_arg,
    json_body,
    page,
    text_arg,
    token_required,
)
from outreach.api.openapi import MAX_BIG_ID, MAX_INT_ID, document
from outreach.api.service import (
    ConflictError,
    ConsentInput,
    InputError,
    SubscriberInput,
    audience_dict,
    campaigns_dicts,
    create_subscriber,
    messages_dicts,
    parse_given_at,
    send_confirmations,
    subscribers_dicts,
)
from outreach.audiences.contacts import InvalidContact, normalise_email, normalise_phone
from outreach.campaigns import lifecycle
from outreach.consent import evidence
from outreach.extensions import db
from outreach.models import Audience, Campaign, Message, Subscriber
from outreach.models.campaigns import CAMPAIGN_STATES
from outreach.models.outbox import MESSAGE_STATES
from outreach.results import opens, reports

_HEX = frozenset("0123456789abcdef")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    db.session.rollback()
    return api_error_response(exc)


def _not_found(what: str) -> ApiError:
    return ApiError(404, "Not Found", f"No {what} with this id.")


def _subscriber_or_404(public_id: str) -> Subscriber:
    if len(public_id) != 32 or not set(public_id) <= _HEX:
        raise _not_found("subscriber")
    found = db.session.scalar(select(Subscriber).filter_by(public_id=public_id))
    if found is None:
        raise _not_found("subscriber")
    return found


def _campaign_or_404(campaign_id: int) -> Campaign:
    found = db.session.get(Campaign, campaign_id) if 0 < campaign_id <= MAX_INT_ID else None
    if found is None:
        raise _not_found("campaign")
    return found


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document (no token needed)."""
    return jsonify(document())


# --------------------------------------------------------------------------- audiences


@bp.get("/audiences")
@token_required
def audiences() -> Response:
    """List audiences."""
    return page(select(Audience), Audience.id, lambda rows: [audience_dict(a) for a in rows])


@bp.get("/audiences/<slug>")
@token_required
def audience(slug: str) -> Response:
    """One audience by slug."""
    found = (
        db.session.scalar(select(Audience).filter_by(slug=slug))
        if len(slug) <= 80 and slug.isprintable()
        else None
    )
    if found is None:
        raise ApiError(404, "Not Found", "No audience with this slug.")
    return jsonify(audience_dict(found))


# --------------------------------------------------------------------------- subscribers


@bp.get("/subscribers")
@token_required
def subscribers() -> Response:
    """List subscribers; ``email`` or ``phone`` look one up."""
    query = select(Subscriber)
    email, phone = text_arg("email", 320), text_arg("phone", 32)
    try:
        if email is not None:
            query = query.where(Subscriber.email == normalise_email(email))
        if phone is not None:
            query = query.where(Subscriber.phone == normalise_phone(phone))
    except InvalidContact as exc:
        field = "email" if email is not None and "email" in str(exc).lower() else "phone"
        raise ApiError(400, "Bad Request", str(exc), {field: str(exc)}) from None
    return page(query, Subscriber.id, subscribers_dicts, ("email", "phone"))


def _subscriber_input(body: dict) -> SubscriberInput:
    proof = body.get("consent")
    return SubscriberInput(
        audience=body["audience"],
        email=body.get("email"),
        phone=body.get("phone"),
        first_name=body.get("first_name") or "",
        timezone=body.get("timezone"),
        language=body.get("language") or "en",
        channels=tuple(body["channels"]) if "channels" in body else None,
        consent=ConsentInput(
            wording=proof["wording"],
            given_at=parse_given_at(proof["given_at"]),
            form_url=proof.get("form_url") or None,
            ip_address=proof.get("ip_address") or None,
            user_agent=proof.get("user_agent") or None,
            reference=proof.get("reference") or None,
        )
        if proof is not None
        else None,
    )


@bp.post("/subscribers")
@token_required
def subscriber_create() -> tuple[Response, int]:
    """Add a subscriber with consent evidence (single opt-in only where allowed)."""
    body = json_body("SubscriberCreate")
    token = current_token()
    try:
        data = _subscriber_input(body)
        result = create_subscriber(data, actor_id=token.staff_user_id, actor_note=actor_note())
    except InputError as exc:
        raise ApiError(
            422,
            "Unprocessable Content",
            "Some fields are not valid.",
            exc.errors,
            kind="urn:outreach:problem:validation",
        ) from None
    except ConflictError as exc:
        raise ApiError(409, "Conflict", str(exc)) from None
    db.session.commit()
    outcomes = send_confirmations(result)
    payload = {
        "subscriber": subscribers_dicts([result.subscriber])[0],
        "created": result.created,
        "confirmations": outcomes,
    }
    return jsonify(payload), 201 if result.created else 200


@bp.get("/subscribers/<subscriber_id>")
@token_required
def subscriber(subscriber_id: str) -> Response:
    """One subscriber by public id."""
    return jsonify(subscribers_dicts([_subscriber_or_404(subscriber_id)])[0])


@bp.get("/subscribers/<subscriber_id>/consent")
@token_required
def subscriber_consent(subscriber_id: str) -> Response:
    """The consent history with its evidence (JSON)."""
    return jsonify(evidence.ledger_json(_subscriber_or_404(subscriber_id)))


@bp.get("/subscribers/<subscriber_id>/consent.csv")
@token_required
def subscriber_consent_csv(subscriber_id: str) -> Response:
    """The consent history as CSV."""
    person = _subscriber_or_404(subscriber_id)
    return Response(
        evidence.ledger_csv(person),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="consent-evidence-{person.public_id}.csv"'
        },
    )


# --------------------------------------------------------------------------- campaigns


@bp.get("/campaigns")
@token_required
def campaigns() -> Response:
    """List campaigns, optionally by status."""
    query = select(Campaign)
    status = choice_arg("status", CAMPAIGN_STATES)
    if status is not None:
        query = query.where(Campaign.status == status)
    return page(query, Campaign.id, campaigns_dicts, ("status",))


@bp.get("/campaigns/<int:campaign_id>")
@token_required
def campaign(campaign_id: int) -> Response:
    """One campaign with its steps."""
    return jsonify(campaigns_dicts([_campaign_or_404(campaign_id)])[0])


@bp.get("/campaigns/<int:campaign_id>/stats")
@token_required
def campaign_stats(campaign_id: int) -> Response:
    """The results dashboard's numbers."""
    campaign = _campaign_or_404(campaign_id)
    answer = reports.campaign_results(campaign).to_dict()
    answer["engagement"] = opens.engagement_dicts(campaign)  # per step: opens, clicks
    return jsonify(answer)


@bp.post("/campaigns/<int:campaign_id>/pause")
@token_required
def campaign_pause(campaign_id: int) -> Response:
    """Pause a scheduled or running campaign."""
    found = _campaign_or_404(campaign_id)
    body = json_body("PauseRequest", required=False)
    reason = " ".join((body.get("reason") or "").split()) or "paused through the API"
    token = current_token()
    try:
        lifecycle.pause(found, f"{reason} [API: {token.name}]", token.staff_user_id)
    except lifecycle.LifecycleError as exc:
        raise ApiError(409, "Conflict", str(exc)) from None
    db.session.commit()
    return jsonify(campaigns_dicts([found])[0])


@bp.post("/campaigns/<int:campaign_id>/resume")
@token_required
def campaign_resume(campaign_id: int) -> Response:
    """Resume a paused campaign."""
    found = _campaign_or_404(campaign_id)
    token = current_token()
    try:
        lifecycle.resume(found, token.staff_user_id)
    except lifecycle.LifecycleError as exc:
        raise ApiError(409, "Conflict", str(exc)) from None
    db.session.commit()
    return jsonify(campaigns_dicts([found])[0])


# --------------------------------------------------------------------------- messages


@bp.get("/messages")
@token_required
def messages() -> Response:
    """Outbox rows filtered by subscriber, campaign and state."""
    query = select(Message)
    public_id = text_arg("subscriber", 32)
    if public_id is not None:
        if len(public_id) != 32 or not set(public_id) <= _HEX:
            raise ApiError(
                400, "Bad Request", "subscriber must be a public id.", {"subscriber": "not valid"}
            )
        person = db.session.scalar(select(Subscriber.id).filter_by(public_id=public_id))
        query = query.where(Message.subscriber_id == (person or 0))
    campaign_id = int_arg("campaign")
    if campaign_id is not None:
        query = query.where(Message.campaign_id == campaign_id)
    state = choice_arg("state", MESSAGE_STATES)
    if state is not None:
        query = query.where(Message.state == state)
    return page(query, Message.id, messages_dicts, ("subscriber", "campaign", "state"), MAX_BIG_ID)
