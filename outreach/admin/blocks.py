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
        blocks=saved_blocks.with_html(),
        editing=block,
        form=form,
        errors=errors,
    ), status


@bp.get("/blocks")
@login_required
def blocks():  # noqa: ANN201
    """Every saved block with what it looks like, and the form to add one."""
    return _page(None, {"name": "", "markdown": ""}, {})


def _save(block: SavedBlock | None):  # noqa: ANN202
    """Save the posted form as a new block (``block`` None) or into ``block``."""
    form = {"name": form_str("name"), "markdown": form_text("markdown")}
    block_id = block.id if block is not None else None
    try:
        saved = saved_blocks.save_block(form["name"], form["markdown"], current_user.id, block)
    except EditError as exc:
        db.session.rollback()
        again = db.session.get(SavedBlock, block_id) if block_id is not None else None
        return _page(again, form, exc.errors, 400)
    db.session.commit()
    hint = "" if block_id is not None else " Insert it from any email step's editor."
    flash(f"Block '{saved.name}' saved.{hint}")
    return redirect(url_for("admin.blocks"), 303)


@bp.post("/blocks")
@editor_required
def block_create():  # noqa: ANN201
    """Add a block."""
    return _save(None)


@bp.route("/blocks/<int:block_id>/edit", methods=["GET", "POST"])
@editor_required
def block_edit(block_id: int):  # noqa: ANN201
    """Change a block (steps it was inserted into keep their own copy)."""
    block = get_or_404(SavedBlock, block_id)
    if request.method == "GET":
        return _page(block, {"name": block.name, "markdown": block.markdown}, {})
    return _save(block)


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
