"""Campaign pages for the YAML file: download a campaign, upload one (validated first)."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import get_or_404
from outreach.campaigns.files import check as campaign_check
from outreach.campaigns.files import export as campaign_export
from outreach.campaigns.files import load as campaign_files
from outreach.campaigns.files import problems as file_problems
from outreach.extensions import db
from outreach.models import Campaign
from outreach.staff import audit as staff_audit

MAX_UPLOAD = 1_000_000


@bp.get("/campaigns/<int:campaign_id>/campaign.yaml")
@login_required
def campaign_file_download(campaign_id: int) -> Response:
    """The whole campaign as one YAML file (the same text as `campaign export`)."""
    campaign = get_or_404(Campaign, campaign_id)
    slug = "".join(ch if ch.isalnum() else "-" for ch in campaign.name.lower()).strip("-")
    return Response(
        campaign_export.export(campaign),
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{slug or "campaign"}.yaml"'},
    )


@bp.route("/campaigns/upload", methods=["GET", "POST"])
@editor_required
def campaign_file_upload():  # noqa: ANN201
    """Upload a campaign file: every problem is listed with its line; nothing is written."""
    if request.method == "GET":
        return render_template("admin/campaign_upload.html", problems=[], filename=None)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template(
            "admin/campaign_upload.html", filename=None, problems=["Choose a .yaml file to upload."]
        ), 400
    raw = upload.read(MAX_UPLOAD + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or len(raw) > MAX_UPLOAD:
        return render_template(
            "admin/campaign_upload.html",
            filename=upload.filename,
            problems=["The file must be UTF-8 text under 1 MB."],
        ), 400
    problems = [p for p in campaign_check.validate(text) if not p.is_warning]
    if problems:
        return render_template(
            "admin/campaign_upload.html",
            filename=upload.filename,
            problems=[str(p) for p in problems],
        ), 400
    try:
        campaign = campaign_files.load(text)
    except file_problems.CampaignFileError as exc:
        db.session.rollback()
        return render_template(
            "admin/campaign_upload.html",
            filename=upload.filename,
            problems=[str(p) for p in exc.problems],
        ), 400
    staff_audit.audit(current_user.id, "campaign.upload", "campaign", campaign.id, upload.filename)
    db.session.commit()
    flash(f"Loaded {campaign.name!r} as a draft with {len(campaign.steps)} steps.")
    return redirect(url_for("admin.campaign", campaign_id=campaign.id), 303)
