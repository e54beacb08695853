"""The staff inbox of consultation requests (``/admin/requests``): list by status, assign,
change status (audit-logged), CSV export behind re-authentication; viewers read only.
Views parse input and call ``consultations.inbox``; the navigation's new-request count is
a context processor."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import editor_required, recent_auth_required
from outreach.admin.common import form_int, form_str, get_or_404
from outreach.consultations import inbox
from outreach.models import ConsultationRequest
from outreach.models.consultations import REQUEST_STATUSES


@bp.app_context_processor
def _new_requests() -> dict[str, Any]:
    """``new_requests()`` for the staff navigation (counted only when a page asks)."""

    def count() -> int:
        return inbox.new_count() if current_user.is_authenticated else 0

    return {"new_requests": count}


def _status_arg(source: Any) -> str | None:  # noqa: ANN401
    status = (source.get("status") or "").strip()
    if not status:
        return None
    if status not in REQUEST_STATUSES:
        abort(404)
    return status


def _back() -> str:
    """Back to the list the form was on (its status filter and page)."""
    status = _status_arg(request.form)
    page = form_int("page")
    return url_for("admin.requests", status=status, page=page if page and page > 1 else None)


@bp.get("/requests")
@login_required
def requests():  # noqa: ANN201
    """Consultation requests, newest first, optionally in one status."""
    status = _status_arg(request.args)
    raw_page = request.args.get("page", "")
    listing = inbox.listing(status, int(raw_page) if raw_page.isdigit() else 1)
    return render_template(
        "admin/requests.html",
        listing=listing,
        status=status,
        statuses=REQUEST_STATUSES,
        staff=inbox.assignable() if current_user.can_edit else [],
    )


@bp.post("/requests/<int:request_id>/status")
@editor_required
def request_status(request_id: int):  # noqa: ANN201
    """Move one request to another status (audit-logged)."""
    row = get_or_404(ConsultationRequest, request_id)
    try:
        changed = inbox.set_status(row, form_str("to"), current_user.id)
    except inbox.InboxError as exc:
        flash(str(exc), "error")
        return redirect(_back(), 303)
    if changed:
        flash(f"Request {row.id} is now {row.status}.")
    return redirect(_back(), 303)


@bp.post("/requests/<int:request_id>/assign")
@editor_required
def request_assign(request_id: int):  # noqa: ANN201
    """Give one request to a staff user, or to nobody (audit-logged)."""
    row = get_or_404(ConsultationRequest, request_id)
    raw = form_str("staff")
    staff_id = form_int("staff") if raw else None
    if raw and staff_id is None:
        flash("Choose a staff account from the list.", "error")
        return redirect(_back(), 303)
    try:
        changed = inbox.assign(row, staff_id, current_user.id)
    except inbox.InboxError as exc:
        flash(str(exc), "error")
        return redirect(_back(), 303)
    if changed:
        flash(f"Request {row.id} {'assigned' if staff_id else 'unassigned'}.")
    return redirect(_back(), 303)


@bp.get("/requests/export.csv")
@login_required
@recent_auth_required
def requests_export():  # noqa: ANN201
    """The requests (one status, or all) as CSV; names and contacts, so re-authenticated
    and audit-logged."""
    status = _status_arg(request.args)
    name = f"consultation-requests-{status or 'all'}.csv"
    return Response(
        inbox.export_csv(status, current_user.id),
        mimetype="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
