"""The step editor's checks: preflight's health-detail and accessibility findings, in
preflight's words, shown as warnings on the page, as you type (steps/check) and after a
save; preflight itself blocks health details without a BAA and warns with one."""

from __future__ import annotations

import html as html_lib
import json

from tests.admin.support import post, text
from tests.admin.test_campaigns import EMAIL, _add, _new_campaign
from tests.factories import make_audience

RISKY = {
    **EMAIL,
    "subject": "Your appointment on Monday",
    "html": '<h1>June</h1><p>Facts <a href="https://clinic.example/june">click here</a></p>',
}
HEALTH = "health details ('your appointment') must not appear in subject lines"
LINK = "link text 'click here' says nothing on its own"


def checks(client, campaign_id: int, form: dict, channel: str = "email") -> list[dict]:  # noqa: ANN001
    response = post(
        client, f"/admin/campaigns/{campaign_id}/steps/check", {"channel": channel, **form}
    )
    assert response.status_code == 200
    return json.loads(response.get_data(as_text=True))["checks"]


def test_a_new_step_starts_with_nothing_to_look_at(editor):
    campaign_id = _new_campaign(editor, make_audience())
    page = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=email")
    body = page.get_data(as_text=True)
    assert 'id="step-checks"' in body and 'aria-live="polite"' in body
    assert "Nothing to look at so far." in text(page)


def test_checks_as_you_type_use_preflights_words(editor):
    campaign_id = _new_campaign(editor, make_audience())
    found = checks(editor, campaign_id, RISKY)
    assert [c["field"] for c in found] == ["subject", "html"]
    assert found[0]["message"].startswith(HEALTH) and found[1]["message"].startswith(LINK)
    assert checks(editor, campaign_id, EMAIL) == []


def test_a_spanish_version_is_checked_as_typed(editor):
    campaign_id = _new_campaign(editor, make_audience())
    spanish = {
        **EMAIL,
        "es_subject": "Tu próxima cita",
        "es_html": '<p><a href="https://x.example/">aquí</a></p>',
    }
    found = checks(editor, campaign_id, spanish)
    assert [c["field"] for c in found] == ["es.subject", "es.html"]
    assert found[0]["message"].startswith("Spanish version: health details ('tu próxima cita')")
    assert found[1]["message"].startswith("Spanish version: link text 'aquí'")


def test_texts_are_checked_for_what_the_sms_provider_keeps(editor):
    campaign_id = _new_campaign(editor, make_audience())
    found = checks(editor, campaign_id, {"body": "Your lab results are ready."}, "sms")
    assert [c["field"] for c in found] == ["body"]
    assert "OUTREACH_SMS_BAA=1" in found[0]["message"]


def test_the_check_needs_the_forms_csrf_token_and_an_editor(editor, viewer):
    campaign_id = _new_campaign(editor, make_audience())
    url = f"/admin/campaigns/{campaign_id}/steps/check"
    assert editor.post(url, data={"channel": "email", **RISKY}).status_code == 400
    assert post(viewer, url, {"channel": "email", **RISKY}).status_code == 403


def test_after_saving_the_warnings_show_again_and_preflight_blocks(editor):
    campaign_id = _new_campaign(editor, make_audience())
    saved = _add(editor, campaign_id, "email", RISKY)
    assert saved.status_code == 303
    campaign_page = text(editor.get(saved.headers["Location"]))
    assert f"Step 1 · subject: {HEALTH}" in campaign_page and LINK in campaign_page

    edit_page = editor.get(f"/admin/campaigns/{campaign_id}")
    step_link = next(
        part.split('"')[0]
        for part in edit_page.get_data(as_text=True).split('href="')
        if part.startswith("/admin/steps/") and "/edit" in part.split('"')[0]
    )
    editor_page = html_lib.unescape(editor.get(step_link).get_data(as_text=True))
    assert HEALTH in editor_page and LINK in editor_page

    preflight = html_lib.unescape(
        editor.get(f"/admin/campaigns/{campaign_id}/preflight").get_data(as_text=True)
    )
    errors, warnings = preflight.split('id="preflight-warnings"')
    assert HEALTH in errors and LINK in warnings


def test_with_a_baa_preflight_turns_the_block_into_a_warning(app, editor):
    app.config["OUTREACH_EMAIL_BAA"] = True
    campaign_id = _new_campaign(editor, make_audience())
    assert _add(editor, campaign_id, "email", RISKY).status_code == 303
    preflight = html_lib.unescape(
        editor.get(f"/admin/campaigns/{campaign_id}/preflight").get_data(as_text=True)
    )
    assert 'id="preflight-errors"' not in preflight
    assert "OUTREACH_EMAIL_BAA says you have a BAA" in preflight
