"""Writing an email without HTML: a step written in Markdown is saved with the HTML it makes
(so preview, checks and sending read one HTML), reopens in Markdown, can switch to HTML
("advanced"), has a live preview through the sender's renderer, and saved blocks insert
into it. Through the staff pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog, SavedBlock, Step
from tests.admin.support import post, text
from tests.admin.test_campaigns import EMAIL, _add, _new_campaign
from tests.factories import make_audience

MARKDOWN = (
    "# Hello {{ first_name }}\n\n"
    "Stress, **sleep** and skipped meals are common triggers.\n\n"
    "- Keep a headache diary\n- Drink water\n\n"
    '[Request a free consultation]({{ request_url }} "button")\n'
)
WRITTEN = {
    **{k: v for k, v in EMAIL.items() if k != "html"},
    "writing": "markdown",
    "markdown": MARKDOWN,
}


def _only_step() -> Step:
    db.session.expire_all()
    (step,) = db.session.scalars(select(Step)).all()
    return step


def live(client, campaign_id: int, form: dict, **extra) -> dict:  # noqa: ANN001
    response = post(
        client,
        f"/admin/campaigns/{campaign_id}/steps/preview",
        {"channel": "email", **form, **extra},
    )
    assert response.status_code == 200, text(response)
    return json.loads(response.get_data(as_text=True))


def test_a_new_email_step_offers_markdown_first_with_a_toolbar(editor):
    campaign_id = _new_campaign(editor, make_audience())
    page = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=email")
    body = page.get_data(as_text=True)
    assert 'name="writing" value="markdown" checked' in body
    assert 'role="toolbar"' in body
    for action in ("heading", "bold", "link", "list", "button", "image"):
        assert f'data-md="{action}"' in body
    assert 'id="live-preview"' in body and 'id="live-frame" sandbox=""' in body


def test_a_markdown_step_is_saved_with_the_html_it_makes_and_reopens_in_markdown(editor):
    campaign_id = _new_campaign(editor, make_audience())
    assert _add(editor, campaign_id, "email", WRITTEN).status_code == 303
    step = _only_step()
    assert step.markdown == MARKDOWN
    assert "<h1>Hello {{ first_name }}</h1>" in step.html
    assert "<strong>sleep</strong>" in step.html and "<li>Keep a headache diary</li>" in step.html
    assert '<a href="{{ request_url }}" class="button">Request a free consultation</a>' in step.html

    page = editor.get(f"/admin/steps/{step.id}/edit").get_data(as_text=True)
    assert 'name="writing" value="markdown" checked' in page
    assert "**sleep**" in page


def test_html_written_in_markdown_is_shown_as_text_never_passed_through(editor):
    campaign_id = _new_campaign(editor, make_audience())
    hostile = {**WRITTEN, "markdown": "Hi <script>alert(1)</script> [x](javascript:alert(1))"}
    assert _add(editor, campaign_id, "email", hostile).status_code == 303
    html = _only_step().html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_switching_a_step_to_html_keeps_the_html_and_lets_the_markdown_go(editor):
    campaign_id = _new_campaign(editor, make_audience())
    _add(editor, campaign_id, "email", WRITTEN)
    step = _only_step()
    advanced = {**EMAIL, "writing": "html", "html": step.html + "<p>Added by hand</p>"}
    response = post(editor, f"/admin/steps/{step.id}/edit", advanced)
    assert response.status_code == 303
    step = _only_step()
    assert step.markdown is None and step.html.endswith("<p>Added by hand</p>")
    page = editor.get(f"/admin/steps/{step.id}/edit").get_data(as_text=True)
    assert 'name="writing" value="html" checked' in page


def test_an_empty_markdown_body_is_refused_on_the_markdown_field(editor):
    campaign_id = _new_campaign(editor, make_audience())
    response = _add(editor, campaign_id, "email", {**WRITTEN, "markdown": "  \n"})
    assert response.status_code == 400
    assert 'id="markdown-error"' in response.get_data(as_text=True)
    assert "an email needs a body" in text(response)


def test_the_spanish_version_is_written_in_markdown_too(editor):
    campaign_id = _new_campaign(editor, make_audience())
    form = {
        **WRITTEN,
        "es_subject": "Junio: mes de la migraña",
        "es_markdown": "Hola {{ first_name }}: **el estrés** es un desencadenante común.",
    }
    assert _add(editor, campaign_id, "email", form).status_code == 303
    variant = _only_step().variant("es")
    assert variant.markdown == form["es_markdown"]
    assert "<strong>el estrés</strong>" in variant.html


def test_the_live_preview_renders_unsaved_markdown_through_the_senders_layout(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    shown = live(editor, campaign_id, WRITTEN)
    assert shown["error"] is None
    assert shown["subject"] == EMAIL["subject"]
    assert "Hello Alex</h1>" in shown["html"]  # the sample person's name filled in
    assert audience.postal_address in shown["html"]  # the layout's footer
    assert 'class="button"' in shown["html"]
    assert "<strong>sleep</strong>" in shown["bodies"]["html"]
    assert db.session.scalar(select(Step.id)) is None  # nothing was saved


def test_the_live_preview_shows_the_spanish_copy_and_template_errors(editor):
    campaign_id = _new_campaign(editor, make_audience())
    form = {**WRITTEN, "es_subject": "Junio", "es_markdown": "Hola {{ first_name }}"}
    assert "Hola Alex" in live(editor, campaign_id, form, lang="es")["html"]
    broken = live(editor, campaign_id, {**WRITTEN, "markdown": "Hi {{ first_name "})
    assert broken["error"]


def test_the_live_preview_needs_an_editor_and_the_csrf_token(editor, viewer):
    campaign_id = _new_campaign(editor, make_audience())
    url = f"/admin/campaigns/{campaign_id}/steps/preview"
    assert editor.post(url, data={"channel": "email", **WRITTEN}).status_code == 400
    assert post(viewer, url, {"channel": "email", **WRITTEN}).status_code == 403


def test_saved_blocks_are_added_listed_and_offered_in_the_editor(editor):
    response = post(
        editor,
        "/admin/blocks",
        {"name": "Consultation button", "markdown": '[Book]({{ request_url }} "button")'},
    )
    assert response.status_code == 303
    page = editor.get("/admin/blocks")
    assert "Consultation button" in text(page)
    assert 'class="button"' in page.get_data(as_text=True)  # what it looks like

    campaign_id = _new_campaign(editor, make_audience())
    body = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=email").get_data(
        as_text=True
    )
    assert ">Consultation button</option>" in body
    assert 'data-markdown="[Book]({{ request_url }} &#34;button&#34;)"' in body
    (entry,) = db.session.scalars(select(AuditLog).where(AuditLog.action == "block.create"))
    assert entry.detail == "Consultation button"


def test_a_block_needs_a_unique_name_and_valid_markdown(editor):
    post(editor, "/admin/blocks", {"name": "Sign-off", "markdown": "Warm regards"})
    again = post(editor, "/admin/blocks", {"name": "Sign-off", "markdown": "Bye"})
    assert again.status_code == 400 and "another block has this name" in text(again)
    broken = post(editor, "/admin/blocks", {"name": "Broken", "markdown": "{{ nope }}"})
    assert broken.status_code == 400
    assert db.session.scalar(select(SavedBlock.markdown)) == "Warm regards"


def test_editing_and_deleting_a_block_asks_first_and_leaves_steps_alone(editor):
    post(editor, "/admin/blocks", {"name": "Sign-off", "markdown": "Warm regards"})
    block_id = db.session.scalar(select(SavedBlock.id))
    campaign_id = _new_campaign(editor, make_audience())
    _add(editor, campaign_id, "email", {**WRITTEN, "markdown": "Hi\n\nWarm regards"})

    changed = {"name": "Sign-off", "markdown": "Best wishes"}
    assert post(editor, f"/admin/blocks/{block_id}/edit", changed).status_code == 303
    confirm = editor.get(f"/admin/blocks/{block_id}/delete")
    assert "Delete the block 'Sign-off'?" in text(confirm)
    assert post(editor, f"/admin/blocks/{block_id}/delete").status_code == 200  # no confirm
    gone = post(editor, f"/admin/blocks/{block_id}/delete", {"confirm": "yes"})
    assert gone.status_code == 303
    assert db.session.scalar(select(SavedBlock.id)) is None
    assert _only_step().markdown == "Hi\n\nWarm regards"


def test_viewers_read_blocks_but_cannot_change_them(editor, viewer):
    post(editor, "/admin/blocks", {"name": "Sign-off", "markdown": "Warm regards"})
    page = viewer.get("/admin/blocks")
    assert page.status_code == 200 and "Sign-off" in text(page)
    assert 'id="block-form"' not in page.get_data(as_text=True)
    assert post(viewer, "/admin/blocks", {"name": "X", "markdown": "y"}).status_code == 403


def test_a_step_written_in_html_can_insert_a_block_as_html(editor):
    post(editor, "/admin/blocks", {"name": "Sign-off", "markdown": "**Warm regards**"})
    campaign_id = _new_campaign(editor, make_audience())
    _add(editor, campaign_id, "email", {**EMAIL, "writing": "html"})
    page = editor.get(f"/admin/steps/{_only_step().id}/edit").get_data(as_text=True)
    assert '<select id="html-block" data-block-select data-insert-as="html">' in page
    assert 'data-html="&lt;p&gt;&lt;strong&gt;Warm regards&lt;/strong&gt;&lt;/p&gt;"' in page


def test_checks_as_you_type_name_the_markdown_field(editor):
    campaign_id = _new_campaign(editor, make_audience())
    form = {**WRITTEN, "markdown": "Read [click here](https://clinic.example/june)"}
    response = post(
        editor, f"/admin/campaigns/{campaign_id}/steps/check", {"channel": "email", **form}
    )
    found = json.loads(response.get_data(as_text=True))["checks"]
    assert any(f["field"] == "markdown" and "'click here'" in f["message"] for f in found)
    assert not any(f["field"] == "html" for f in found)
