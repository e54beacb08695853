"""Saved blocks page: the Markdown snippets staff insert into email steps (list, add, edit,
delete after a confirmation). The rules live in ``outreach.campaigns.blocks``."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from outreach.admin import bp
from outreach.admin.auth import editor_required
from outreach.admin.common import confirmed, form_str, form_text, get_or_404
from outreach.campaigns import blocks as saved_blocks
from outreach.campaigns.editing import EditError
from outreach.extensions import db
from outreach.models import SavedBlock


def _page(block: SavedBlock | None, form: dict[str, str], errors: dict, status: int = 200):  # noqa: ANN202
    return render_template(
        "admin/blocks.html",
        blocks=saved_blocks.all_blocks(),
        editing=block,
        form=form,
        errors=errors,
        as_html=saved_blocks.as_html,
    ), status


@bp.get("/blocks")
@login_required
def blocks():  # noqa: ANN201
    """Every saved block with what it looks like, and the form to add one."""
    return _page(None, {"name": "", "markdown": ""}, {})


@bp.post("/blocks")
@editor_required
def block_create():  # noqa: ANN201
    """Add a block."""
    form = {"name": form_str("name"), "markdown": form_text("markdown")}
    try:
        block = saved_blocks.save_block(form["name"], form["markdown"], current_user.id)
    except EditError as exc:
        db.session.rollback()
        return _page(None, form, exc.errors, 400)
    db.session.commit()
    flash(f"Block '{block.name}' saved. Insert it from any email step's editor.")
    return redirect(url_for("admin.blocks"), 303)


@bp.route("/blocks/<int:block_id>/edit", methods=["GET", "POST"])
@editor_required
def block_edit(block_id: int):  # noqa: ANN201
    """Change a block (steps it was inserted into keep their own copy)."""
    block = get_or_404(SavedBlock, block_id)
    if request.method == "GET":
        return _page(block, {"name": block.name, "markdown": block.markdown}, {})
    form = {"name": form_str("name"), "markdown": form_text("markdown")}
    try:
        saved_blocks.save_block(form["name"], form["markdown"], current_user.id, block)
    except EditError as exc:
        db.session.rollback()
        return _page(db.session.get(SavedBlock, block_id), form, exc.errors, 400)
    db.session.commit()
    flash(f"Block '{block.name}' saved.")
    return redirect(url_for("admin.blocks"), 303)


@bp.route("/blocks/<int:block_id>/delete", methods=["GET", "POST"])
@editor_required
def block_delete(block_id: int):  # noqa: ANN201
    """Delete a block after a confirmation."""
    block = get_or_404(SavedBlock, block_id)
    if request.method == "GET" or not confirmed():
        return render_template(
            "admin/confirm.html",
            title=f"Delete the block '{block.name}'?",
            message="It disappears from the editor's list. Steps it was inserted into keep "
            "their text.",
            action=url_for("admin.block_delete", block_id=block.id),
            button="Delete block",
            danger=True,
            back=url_for("admin.blocks"),
        )
    name = block.name
    saved_blocks.delete_block(block, current_user.id)
    db.session.commit()
    flash(f"Block '{name}' deleted.")
    return redirect(url_for("admin.blocks"), 303)
