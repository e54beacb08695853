"""Campaign files from the campaign pages: download, upload, and the sequence end to end."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from outreach.campaigns.files import export as campaign_export
from outreach.campaigns.files import load as campaign_files
from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import Campaign, Step
from tests.admin.support import post, text
from tests.factories import make_audience
from tests.helpers import submit_form

WELCOME = """\
name: Welcome series
audience: migraine-awareness
anchor: {on: confirmation}
steps:
  - after: 0
    channel: email
    subject: "Welcome to migraine awareness news"
    preheader: "What to expect this June"
    html: |
      <p>Hi {{ first_name }}, thanks for joining. In June we share what is known about
      migraine triggers and symptoms. Talk to your clinician about your own care.</p>
  - after: 2d
    channel: email
    subject: "Keeping a headache diary"
    html: |
      <p>A simple diary of sleep, food and stress can help you spot patterns.</p>
"""


def _upload(client, content: str, name: str = "welcome.yaml"):  # noqa: ANN001, ANN202
    return post(
        client,
        "/admin/campaigns/upload",
        {"file": (io.BytesIO(content.encode()), name)},
        content_type="multipart/form-data",
    )


def test_download_is_the_exported_file(app, editor):
    make_audience()
    campaign = campaign_files.load(WELCOME)
    db.session.commit()
    response = editor.get(f"/admin/campaigns/{campaign.id}/campaign.yaml")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == campaign_export.export(campaign)
    page = editor.get(f"/admin/campaigns/{campaign.id}")
    assert f"/admin/campaigns/{campaign.id}/campaign.yaml" in page.get_data(as_text=True)


def test_upload_creates_a_draft_and_uploading_again_updates_it(app, editor):
    make_audience()
    first = _upload(editor, WELCOME)
    assert first.status_code == 303
    again = _upload(editor, WELCOME.replace("Keeping a headache diary", "A simple diary habit"))
    assert again.status_code == 303
    assert db.session.scalar(select(func.count(Campaign.id))) == 1
    subjects = db.session.scalars(select(Step.subject).order_by(Step.position)).all()
    assert subjects == ["Welcome to migraine awareness news", "A simple diary habit"]


def test_bad_file_lists_problems_with_lines_and_writes_nothing(app, editor):
    make_audience()
    broken = WELCOME.replace(
        'channel: email\n    subject: "Keeping', 'channel: fax\n    subject: "Keeping'
    )
    response = _upload(editor, broken)
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was changed" in page
    assert re.search(r"line \d+", page)
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


SPANISH_WELCOME = WELCOME.replace(
    "      migraine triggers and symptoms. Talk to your clinician about your own care.</p>\n",
    "      migraine triggers and symptoms. Talk to your clinician about your own care.</p>\n"
    "    es:\n"
    '      subject: "Bienvenida a las noticias sobre la migraña"\n'
    "      html: |\n"
    "        <p>¡Hola, {{ first_name }}! Gracias por unirte. Consulta a tu médico.</p>\n",
)


def test_upload_with_spanish_copy_and_download_it_again(app, editor):
    make_audience()
    typo = SPANISH_WELCOME.replace('      subject: "Bienvenida', '      subjet: "Bienvenida')
    refused = _upload(editor, typo)
    assert refused.status_code == 400
    assert "line 13: step 1 es: unknown key 'subjet'; did you mean 'subject'?" in text(refused)
    assert "line 12: step 1 es: missing 'subject'" in text(refused)
    loaded = _upload(editor, SPANISH_WELCOME)
    assert loaded.status_code == 303, text(loaded)
    step = db.session.scalars(select(Step).order_by(Step.position)).first()
    assert step.variant("es").subject == "Bienvenida a las noticias sobre la migraña"
    campaign_id = step.campaign_id
    download = editor.get(f"/admin/campaigns/{campaign_id}/campaign.yaml")
    assert "    es:\n      subject: Bienvenida a las noticias sobre la migraña\n" in (
        download.get_data(as_text=True)
    )


def test_viewer_cannot_upload(app, viewer):
    make_audience()
    assert _upload(viewer, WELCOME).status_code == 403
    assert db.session.scalar(select(func.count(Campaign.id))) == 0


def test_after_zero_goes_out_on_the_next_dispatch_after_confirming(
    app, client, cli, clock, tmp_path
):
    make_audience()
    path = tmp_path / "welcome.yaml"
    path.write_text(WELCOME)
    loaded = cli.invoke(args=["outreach", "campaign", "load", str(path), "--schedule"])
    assert loaded.exit_code == 0, loaded.output
    clock.set(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))  # 11:00 in New York
    submit_form(
        client,
        "/subscribe/migraine-awareness",
        {
            "email": "new@example.org",
            "first_name": "Nia",
            "timezone": "America/New_York",
            "consent_email": "y",
        },
    )
    mail = console_mailbox.recent_messages()
    link = re.search(r"https?://[^/]+(/confirm/[^\"\s<]+)", mail[0]["html"]).group(1)
    assert submit_form(client, link, {}).status_code == 200
    result = cli.invoke(args=["outreach", "dispatch", "--once"])
    assert result.exit_code == 0, result.output
    welcome = [m for m in console_mailbox.recent_messages() if m["subject"].startswith("Welcome")]
    assert [m["to"] for m in welcome] == ["new@example.org"]
    assert "Hi Nia" in welcome[0]["html"]
