"""Saved blocks: Markdown snippets staff write once (the clinic's sign-off, the "talk to your
clinician" line, the consultation button) and insert into any email step. Inserting copies
the text into the step, so a later edit of a block never changes a step already written."""

from __future__ import annotations

from sqlalchemy import select

from outreach.campaigns.editing import EditError
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import SavedBlock
from outreach.rendering import markdown as markdown_rendering
from outreach.rendering import templates
from outreach.staff import audit as staff_audit

NAME_LIMIT = 80
MARKDOWN_LIMIT = 5000

#: What the June demo starts with (``flask outreach demo``).
DEMO_BLOCKS = {
    "Sign-off": "Warm regards,\n\nThe {{ organisation }} team",
    "Talk to your clinician": (
        "Everyone's headaches are different: talk to your clinician before you change "
        "anything about how you manage yours."
    ),
    "Consultation button": '[Request a free consultation]({{ request_url }} "button")',
}


def all_blocks() -> list[SavedBlock]:
    """Every saved block, by name."""
    return list(db.session.scalars(select(SavedBlock).order_by(SavedBlock.name)))


def as_html(block: SavedBlock) -> str:
    """A block as the HTML it renders to (what an HTML-written step inserts)."""
    return markdown_rendering.to_html(block.markdown)


def _check(name: str, markdown: str, block: SavedBlock | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "give the block a name"
    elif len(name) > NAME_LIMIT:
        errors["name"] = f"at most {NAME_LIMIT} characters"
    else:
        same = db.session.scalar(select(SavedBlock).where(SavedBlock.name == name))
        if same is not None and same is not block:
            errors["name"] = "another block has this name"
    if not markdown.strip():
        errors["markdown"] = "a block needs some text"
    elif len(markdown) > MARKDOWN_LIMIT:
        errors["markdown"] = f"at most {MARKDOWN_LIMIT} characters"
    elif problems := templates.check_template(markdown_rendering.to_html(markdown)):
        errors["markdown"] = "; ".join(problems)
    return errors


def save_block(
    name: str, markdown: str, actor_id: int | None, block: SavedBlock | None = None
) -> SavedBlock:
    """Create a block (``block`` None) or change one; audit-logged; raises EditError."""
    name = name.strip()
    errors = _check(name, markdown, block)
    if errors:
        raise EditError(errors)
    created = block is None
    if block is None:
        block = SavedBlock()
        db.session.add(block)
    block.name = name
    block.markdown = markdown
    block.updated_at = clock_now()
    db.session.flush()
    action = "block.create" if created else "block.update"
    staff_audit.audit(actor_id, action, "block", block.id, name)
    return block


def delete_block(block: SavedBlock, actor_id: int | None) -> None:
    """Remove a block (steps it was inserted into keep their copy); audit-logged."""
    staff_audit.audit(actor_id, "block.delete", "block", block.id, block.name)
    db.session.delete(block)
    db.session.flush()


def add_demo_blocks() -> int:
    """The demo's blocks that are not there yet; returns how many were added."""
    known = {block.name for block in all_blocks()}
    added = 0
    for name, markdown in DEMO_BLOCKS.items():
        if name not in known:
            db.session.add(SavedBlock(name=name, markdown=markdown, updated_at=clock_now()))
            added += 1
    db.session.flush()
    return added
