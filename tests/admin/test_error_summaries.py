"""A staff form sent with mistakes comes back with an error summary at the top (announced,
focusable) whose links lead to each field, and the fields point at their messages."""

from __future__ import annotations

import re

from tests.admin.support import post


def test_the_audience_form_lists_each_mistake_linked_to_its_field(editor):
    page = post(editor, "/admin/audiences/new", {"name": "", "slug": "Bad Slug"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    summary = re.search(r'<div class="error-summary" role="alert" tabindex="-1" id="error-summary"'
                        r".*?</div>", html, re.S).group(0)  # fmt: skip
    assert "Please fix the highlighted fields." in summary
    targets = re.findall(r'<a href="#([a-z_]+)">', summary)
    assert targets[:3] == ["name", "slug", "channels"]
    for target in targets:
        field = re.search(rf'<[a-z]+ [^>]*id="{target}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in field and f'aria-describedby="{target}-error"' in field
        assert f'id="{target}-error"' in html
    assert '<script src="/static/error-summary.js" defer></script>' in html


def test_the_step_editor_says_nothing_was_saved_above_its_links(editor, app):
    from tests.factories import make_audience, make_campaign

    campaign = make_campaign(make_audience(), [{"channel": "email"}], schedule=False)
    fields = {"channel": "sms", "body": "", "day_offset": "x", "send_time": "10:00"}
    page = post(editor, f"/admin/campaigns/{campaign.id}/steps/new", fields)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Please fix the highlighted fields; nothing was saved." in html
    assert re.search(r'<a href="#(body|day_offset)">', html)
