"""Staff pages for results, evidence and privacy: the campaign results dashboard (with a
server-rendered SVG chart), the audit-log export, privacy requests (export, erase) and API
tokens. Views parse input and call ``reports``, ``privacy`` and ``staff``."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import admin_required, recent_auth_required
from outreach.admin.common import confirmed, form_str, get_or_404
from outreach.admin.times import staff_zone
from outreach.audiences.contacts import InvalidContact
from outreach.consent import evidence, privacy
from outreach.extensions import db
from outreach.models import ApiToken, Campaign, StaffUser, Subscriber
from outreach.results import languages, outbox, reports
from outreach.staff import api_tokens as staff_tokens
from outreach.staff import audit as staff_audit
from outreach.staff import audit_log

#: Staff type this to confirm an erasure.
ERASE_WORD = "ERASE"

# --------------------------------------------------------------------------- chart

CHART_W, CHART_H = 760, 240
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 14, 34
SENT_COLOUR, DELIVERED_COLOUR = "#2563eb", "#16a34a"


def _label(start: datetime, unit: str) -> str:
    return start.strftime("%d %b %H:00" if unit == "hour" else "%d %b")


def chart_svg(series: reports.Series) -> Markup:
    """Sends and deliveries per bucket as an inline SVG bar chart (no script, no CDN)."""
    if not series.buckets:
        return Markup('<p class="muted" id="chart-empty">Nothing has been sent yet.</p>')
    buckets = series.buckets
    top = max(max(b.sent, b.delivered) for b in buckets) or 1
    plot_w, plot_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    slot = plot_w / len(buckets)
    bar = max(slot * 0.4, 0.5)
    unit = "hour" if series.unit == "hour" else "day"
    total_sent = sum(b.sent for b in buckets)
    total_delivered = sum(b.delivered for b in buckets)
    title = (
        f"Sends and deliveries per {unit} (UTC), {_label(buckets[0].start, series.unit)} to "
        f"{_label(buckets[-1].start, series.unit)}: {total_sent} sent, "
        f"{total_delivered} delivered"
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart" role="img" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" width="100%" style="max-width:{CHART_W}px" '
        f'aria-labelledby="chart-title"><title id="chart-title">{escape(title)}</title>'
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_T + plot_h * (1 - fraction)
        value = round(top * fraction)
        parts.append(
            f'<line x1="{PAD_L}" x2="{CHART_W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e5e7eb"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#6b7280">{value:,}</text>'
        )
    for index, bucket in enumerate(buckets):
        x = PAD_L + index * slot + (slot - 2 * bar) / 2
        for offset, value, colour, what in (
            (0, bucket.sent, SENT_COLOUR, "sent"),
            (bar, bucket.delivered, DELIVERED_COLOUR, "delivered"),
        ):
            height = plot_h * value / top
            parts.append(
                f'<rect x="{x + offset:.2f}" y="{PAD_T + plot_h - height:.2f}" '
                f'width="{bar:.2f}" height="{height:.2f}" fill="{colour}" '
                f'data-{what}="{value}"><title>{escape(_label(bucket.start, series.unit))}: '
                f"{value} {what}</title></rect>"
            )
    ticks = sorted({0, len(buckets) // 2, len(buckets) - 1})
    for index in ticks:
        x = PAD_L + (index + 0.5) * slot
        anchor = "start" if index == 0 else ("end" if index == len(buckets) - 1 else "middle")
        parts.append(
            f'<text x="{x:.1f}" y="{CHART_H - 14}" font-size="11" text-anchor="{anchor}" '
            f'fill="#6b7280">{escape(_label(buckets[index].start, series.unit))}</text>'
        )
    parts.append(
        f'<rect x="{PAD_L}" y="{CHART_H - 10}" width="10" height="8" fill="{SENT_COLOUR}"/>'
        f'<text x="{PAD_L + 14}" y="{CHART_H - 2}" font-size="11">sent</text>'
        f'<rect x="{PAD_L + 60}" y="{CHART_H - 10}" width="10" height="8" '
        f'fill="{DELIVERED_COLOUR}"/>'
        f'<text x="{PAD_L + 74}" y="{CHART_H - 2}" font-size="11">delivered</text></svg>'
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


# --------------------------------------------------------------------------- results


@bp.get("/campaigns/<int:campaign_id>/results")
@login_required
def campaign_results(campaign_id: int):  # noqa: ANN201
    """Per step and channel: counts by state, skip reasons, opt-outs, complaints, a chart."""
    campaign = get_or_404(Campaign, campaign_id)
    results = reports.campaign_results(campaign)
    return render_template(
        "admin/results.html",
        campaign=campaign,
        results=results,
        columns=reports.COLUMNS,
        states=reports.STATE_ORDER,
        chart=chart_svg(results.series),
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
