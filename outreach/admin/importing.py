"""CSV import pages: upload, map columns, watch progress, download rejected rows.

The import itself runs in a background thread
(``outreach.audiences.imports.jobs.start_job``); the page
polls ``progress.json``. Job state lives in files under the instance folder, so any web
process on the machine can answer.
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import form_str
from outreach.audiences.imports import jobs as import_jobs
from outreach.audiences.imports import reading as import_reading
from outreach.audiences.imports import settings as import_settings
from outreach.audiences.imports import summary as import_summary
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Audience


def store() -> import_jobs.JobStore:
    """Import jobs of this app (under its instance folder)."""
    return import_jobs.JobStore(Path(current_app.instance_path) / "imports")


def _job(job_id: str) -> dict:
    try:
        return store().load(job_id)
    except (KeyError, ValueError):
        abort(404)


def _audiences() -> list[Audience]:
    return list(db.session.scalars(select(Audience).order_by(Audience.name)))


@bp.route("/import", methods=["GET", "POST"])
@editor_required
def import_upload():  # noqa: ANN201
    """Step 1: choose an audience and upload a CSV file."""
    audiences = _audiences()
    chosen = request.values.get("audience_id", "")
    if request.method == "GET":
        return render_template("admin/import_upload.html", audiences=audiences, chosen=chosen)
    upload = request.files.get("file")
    audience = db.session.get(Audience, int(chosen)) if chosen.isdigit() else None
    error = None
    if audience is None:
        error = "Choose the audience to import into."
    elif upload is None or not upload.filename:
        error = "Choose a CSV file to upload."
    if error is None:
        try:
            state = store().create(upload.stream, upload.filename, current_user.id)
        except import_settings.ImportProblem as exc:
            error = f"That file cannot be imported: {exc}."
    if error:
        flash(error, "error")
        return render_template("admin/import_upload.html", audiences=audiences, chosen=chosen), 400
    state["audience_id"] = audience.id
    store().save(state)
    return redirect(url_for("admin.import_map", job_id=state["id"]), 303)


@bp.route("/import/<job_id>/map", methods=["GET", "POST"])
@editor_required
def import_map(job_id: str):  # noqa: ANN201
    """Step 2: which column is what, which channels, and the consent evidence."""
    state = _job(job_id)
    if state["state"] != "uploaded":
        return redirect(url_for("admin.import_status", job_id=job_id), 303)
    jobs = store()
    info = jobs.info(state)
    audience = db.session.get(Audience, state.get("audience_id") or 0)
    if audience is None:
        abort(404)
    guessed = import_reading.guess_mapping(info.header)
    if request.method == "GET":
        channels = [
            c
            for c, column in (("email", guessed.email), ("sms", guessed.phone))
            if column and c in audience.channel_list
        ]
        return render_template(
            "admin/import_map.html",
            state=state,
            info=info,
            audience=audience,
            mapping=guessed,
            channels=channels,
            consent_source="",
            consent_date="",
            error=None,
            explain=import_settings.mode_explanation(audience, None, None),
            today=clock_now().date().isoformat(),
        )
    mapping = import_settings.ColumnMapping(
        email=form_str("email_column") or None,
        phone=form_str("phone_column") or None,
        first_name=form_str("first_name_column") or None,
        timezone=form_str("timezone_column") or None,
        language=form_str("language_column") or None,
    )
    channels = request.form.getlist("channels")
    try:
        settings = import_settings.build_settings(
            audience,
            info,
            mapping,
            channels,
            consent_source=form_str("consent_source"),
            consent_date=form_str("consent_date"),
            actor_id=current_user.id,
            filename=state["filename"],
            region=form_str("region", "US") or "US",
        )
    except import_settings.ImportProblem as exc:
        return render_template(
            "admin/import_map.html",
            state=state,
            info=info,
            audience=audience,
            mapping=mapping,
            channels=channels,
            consent_source=form_str("consent_source"),
            consent_date=form_str("consent_date"),
            error=str(exc),
            explain=import_settings.mode_explanation(audience, None, None),
            today=clock_now().date().isoformat(),
        ), 400
    state["settings"] = import_settings.settings_to_json(settings)
    state["mode"] = import_settings.import_mode(
        audience, settings.consent_source, settings.consent_date
    )
    state["explain"] = import_settings.mode_explanation(
        audience, settings.consent_source, settings.consent_date
    )
    state["state"] = "queued"
    state["audience_name"] = audience.name
    jobs.save(state)
    import_jobs.start_job(current_app._get_current_object(), jobs, job_id)  # noqa: SLF001
    return redirect(url_for("admin.import_status", job_id=job_id), 303)


@bp.get("/import/<job_id>")
@login_required
def import_status(job_id: str):  # noqa: ANN201
    """Step 3: progress while it runs, then the result and the rejected-rows report."""
    state = _job(job_id)
    done = state["state"] == "done"
    summary = import_summary.sentences(state.get("result") or {}) if done else []
    return render_template("admin/import_status.html", state=state, summary=summary)


@bp.get("/import/<job_id>/progress.json")
@login_required
def import_progress(job_id: str):  # noqa: ANN201
    """Progress of an import, polled by the status page."""
    state = _job(job_id)
    result = state.get("result") or {}
    total = result.get("bytes_total") or state.get("size") or 0
    done = result.get("bytes_read") or 0
    return jsonify(
        state=state["state"],
        percent=100 if state["state"] == "done" else (int(done * 100 / total) if total else 0),
        result=result,
        summary=import_summary.sentences(result) if state["state"] == "done" else [],
        error=state.get("error"),
    )


@bp.get("/import/<job_id>/rejected.csv")
@login_required
def import_report(job_id: str):  # noqa: ANN201
    """The rows that were rejected or only partly imported, with reasons."""
    state = _job(job_id)
    path = store().report_path(job_id)
    if state["state"] not in ("done", "failed") or not path.exists():
        return Response("The report is ready when the import has finished.", 404)
    return send_file(
        path,
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"{Path(state['filename']).stem}-rejected.csv",
    )
