"""Staff pages for results, evidence and privacy: the campaign results dashboard (with
server-rendered SVG charts, ``results/figures.py``), the audit-log export, privacy requests
(export, erase) and API tokens. Views parse input and call ``reports``, ``figures``,
``privacy`` and ``staff``."""

from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import admin_required, recent_auth_required
from outreach.admin.common import confirmed, form_str, get_or_404
from outreach.admin.times import staff_zone
from outreach.audiences.contacts import InvalidContact
from outreach.consent import evidence, privacy
from outreach.extensions import db
from outreach.models import ApiToken, Campaign, StaffUser, Subscriber
from outreach.results import figures, languages, outbox, reports
from outreach.staff import api_tokens as staff_tokens
from outreach.staff import audit as staff_audit
from outreach.staff import audit_log

#: Staff type this to confirm an erasure.
ERASE_WORD = "ERASE"

# --------------------------------------------------------------------------- results


@bp.get("/campaigns/<int:campaign_id>/results")
@login_required
def campaign_results(campaign_id: int):  # noqa: ANN201
    """Did it work? Per step: sent, delivered, clicks, requests, opt-outs; links; the
    funnel and activity over time (server-rendered SVG); outbox states and reasons."""
    campaign = get_or_404(Campaign, campaign_id)
    results = reports.campaign_results(campaign)
    return render_template(
        "admin/results.html",
        campaign=campaign,
        results=results,
        outcomes=reports.OUTCOMES,
        state_columns=reports.STATE_COLUMNS,
        results_cell=reports.StepResult.cell,
        state_cell=reports.StepResult.state_cell,
        funnel_chart=figures.funnel_svg(results),
        chart=figures.sends_svg(results.series),
        clicks_chart=figures.clicks_svg(results.clicks_over_time),
        time_label=figures.time_label,
        reconciliation=outbox.reconciliation(campaign),
        by_language=languages.by_language(campaign, results),
        language_groups=list(languages.GROUPS),
        language_name=languages.language_name,
    )


@bp.get("/campaigns/<int:campaign_id>/results.json")
@login_required
def campaign_results_json(campaign_id: int):  # noqa: ANN201
    """The dashboard's numbers as JSON (same as the API's campaign stats)."""
    campaign = get_or_404(Campaign, campaign_id)
    results = reports.campaign_results(campaign)
    answer = results.to_dict()
    answer["reconciliation"] = outbox.reconciliation(campaign).to_dict()
    answer["by_language"] = [r.to_dict() for r in languages.by_language(campaign, results)]
    return answer


# --------------------------------------------------------------------------- audit log


@bp.get("/audit/export.csv")
@admin_required
@recent_auth_required
def audit_export():  # noqa: ANN201
    """The audit log of staff actions as CSV (admins only; the page's filters apply); the
    page is /admin/audit."""
    filters = audit_log.parse_filters(request.args)
    return Response(
        audit_log.export_csv(filters, staff_zone()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


# --------------------------------------------------------------------------- privacy


def _person_or_404(public_id: str) -> Subscriber:
    person = (
        db.session.scalar(select(Subscriber).filter_by(public_id=public_id))
        if len(public_id) == 32 and public_id.isalnum()
        else None
    )
    if person is None:
        abort(404)
    return person


@bp.get("/privacy")
@admin_required
def privacy_requests():  # noqa: ANN201
    """Find a person by email, phone or public id; export or erase their data."""
    query = (request.args.get("q") or "").strip()[:320]
    person, error = None, None
    if query:
        try:
            person = privacy.find(query)
        except InvalidContact as exc:
            error = str(exc)
        if person is None and error is None:
            error = "Nobody on file with that email, phone or id."
    return render_template(
        "admin/privacy.html", query=query, person=person, error=error, mode="search"
    ), (404 if error else 200)


@bp.get("/privacy/<public_id>/export.json")
@admin_required
@recent_auth_required
def privacy_export(public_id: str):  # noqa: ANN201
    """Everything held on one person, as a JSON download (the download is audited)."""
    person = _person_or_404(public_id)
    document = privacy.export(person, actor_id=current_user.id)
    db.session.commit()
    return Response(
        json.dumps(document, indent=2),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="subscriber-{person.public_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/privacy/<public_id>/evidence.<any(csv, json):fmt>")
@admin_required
@recent_auth_required
def privacy_evidence(public_id: str, fmt: str):  # noqa: ANN201
    """The consent evidence of one person (CSV or JSON), e.g. for an erased subscriber."""
    person = _person_or_404(public_id)
    if fmt == "csv":
        body, mimetype = evidence.ledger_csv(person), "text/csv"
    else:
        body, mimetype = json.dumps(evidence.ledger_json(person), indent=2), "application/json"
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": (
                f'attachment; filename="consent-evidence-{person.public_id}.{fmt}"'
            )
        },
    )


@bp.route("/privacy/<public_id>/erase", methods=["GET", "POST"])
@admin_required
@recent_auth_required
def privacy_erase(public_id: str):  # noqa: ANN201
    """Erase one person, behind a confirmation step (type ERASE)."""
    person = _person_or_404(public_id)
    if person.erased_at is not None:
        flash("This subscriber was already erased.", "error")
        return redirect(url_for("admin.privacy_requests"), 303)
    if request.method == "GET" or not confirmed() or form_str("word") != ERASE_WORD:
        error = f"Type {ERASE_WORD} to confirm." if request.method == "POST" else None
        return render_template(
            "admin/privacy.html",
            person=person,
            mode="confirm",
            error=error,
            query="",
            word=ERASE_WORD,
        ), (400 if error else 200)
    report = privacy.erase(person, actor_id=current_user.id, note=form_str("note")[:300])
    db.session.commit()
    flash(f"Subscriber {person.public_id} erased: {report.summary()}.")
    return redirect(url_for("admin.privacy_requests"), 303)


# --------------------------------------------------------------------------- API tokens


def _tokens_page(new_token: str | None = None, error: str | None = None, status: int = 200):  # noqa: ANN202
    rows = db.session.execute(
        select(ApiToken, StaffUser.email)
        .outerjoin(StaffUser, StaffUser.id == ApiToken.staff_user_id)
        .order_by(ApiToken.id.desc())
    ).all()
    response = Response(
        render_template("admin/api_tokens.html", rows=rows, new_token=new_token, error=error),
        status=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/api-tokens")
@admin_required
def api_tokens():  # noqa: ANN201
    """Bearer tokens for the JSON API (admins only)."""
    return _tokens_page()


@bp.post("/api-tokens")
@admin_required
@recent_auth_required
def api_token_create():  # noqa: ANN201
    """Create a token; its plain value is shown once, on this response only."""
    name = " ".join(form_str("name").split())[:100]
    if not name:
        return _tokens_page(error="Give the token a name, e.g. 'clinic CRM'.", status=400)
    row, plain = staff_tokens.create_api_token(name, staff_user_id=current_user.id)
    staff_audit.audit(
        current_user.id, "api_token.create", "api_token", row.id, f"{name} ({row.prefix}...)"
    )
    db.session.commit()
    return _tokens_page(new_token=plain)


@bp.post("/api-tokens/<int:token_id>/revoke")
@admin_required
def api_token_revoke(token_id: int):  # noqa: ANN201
    """Revoke a token at once (it stops working on its next request)."""
    row = get_or_404(ApiToken, token_id)
    if not confirmed():
        return redirect(url_for("admin.api_tokens"), 303)
    if staff_tokens.revoke_token(row, current_user.id):
        db.session.commit()
        flash(f"Token {row.name!r} revoked.")
    return redirect(url_for("admin.api_tokens"), 303)
