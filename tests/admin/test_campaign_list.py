"""Finding campaigns and starting from a copy: search, status filter, archive, duplicate a
campaign (a new draft with every step and its Spanish version) and duplicate a step."""

from __future__ import annotations

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import AuditLog, Campaign, Message, StepVariant
from tests.admin.support import post, text
from tests.factories import make_audience, make_campaign


def names(page: str, candidates: list[str]) -> list[str]:
    return [name for name in candidates if name in page]


def test_search_and_status_filter(editor):
    audience = make_audience()
    june = make_campaign(audience, [{"channel": "email"}], name="June awareness 2027")
    make_campaign(audience, [{"channel": "email"}], name="Welcome series", schedule=False)
    all_names = ["June awareness 2027", "Welcome series"]

    assert names(text(editor.get("/admin/campaigns?q=june")), all_names) == [all_names[0]]
    assert names(text(editor.get("/admin/campaigns?q=%25")), all_names) == []  # no wildcard
    drafts = text(editor.get("/admin/campaigns?status=draft"))
    assert names(drafts, all_names) == ["Welcome series"]
    scheduled = text(editor.get(f"/admin/campaigns?status={june.status}"))
    assert names(scheduled, all_names) == ["June awareness 2027"]
    nothing = text(editor.get("/admin/campaigns?q=october"))
    assert "No campaign matches" in nothing


def test_archive_hides_a_closed_campaign_and_restore_brings_it_back(editor):
    audience = make_audience()
    draft = make_campaign(audience, [{"channel": "email"}], name="Old draft", schedule=False)
    running = make_campaign(audience, [{"channel": "email"}], name="Live June")

    archived = post(editor, f"/admin/campaigns/{draft.id}/archive", follow_redirects=True)
    assert "“Old draft” archived" in text(archived)
    listing = text(editor.get("/admin/campaigns"))
    assert "Old draft" not in listing and "Archived (1)" in listing
    assert "Old draft" in text(editor.get("/admin/campaigns?archived=1"))

    refused = post(editor, f"/admin/campaigns/{running.id}/archive", follow_redirects=True)
    assert "cancel it or let it finish before archiving" in text(refused)
    db.session.expire_all()
    assert db.session.get(Campaign, running.id).archived_at is None

    post(editor, f"/admin/campaigns/{draft.id}/archive", {"undo": "1"})
    assert "Old draft" in text(editor.get("/admin/campaigns"))
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.target_type == "campaign"))
    assert {"campaign.archive", "campaign.unarchive"} <= set(actions)


def test_duplicate_a_campaign_into_a_new_draft_with_every_step(editor):
    audience = make_audience()
    june = make_campaign(
        audience,
        [
            {"channel": "email", "subject": "June is Migraine Awareness Month"},
            {"channel": "sms", "day_offset": 2, "body": "Keep a headache diary this June."},
        ],
        name="June 2027",
    )
    june.track_links = False
    june.steps[0].variants.append(
        StepVariant(language="es", subject="Junio: mes de la migraña", html="<p>Hola</p>")
    )
    db.session.commit()

    response = post(editor, f"/admin/campaigns/{june.id}/duplicate")
    assert response.status_code == 303
    copy_id = int(response.headers["Location"].rsplit("/", 1)[1])
    db.session.expire_all()
    copy = db.session.get(Campaign, copy_id)
    assert (copy.name, copy.status, copy.track_links) == ("Copy of June 2027", "draft", False)
    assert [(s.channel, s.day_offset, s.subject, s.body) for s in copy.steps] == [
        (s.channel, s.day_offset, s.subject, s.body) for s in june.steps
    ]
    assert copy.steps[0].variant("es").subject == "Junio: mes de la migraña"
    assert db.session.query(Message).filter_by(campaign_id=copy.id).count() == 0
    # a second copy gets a free name
    post(editor, f"/admin/campaigns/{june.id}/duplicate")
    assert db.session.scalar(select(Campaign).filter_by(name="Copy of June 2027 (2)"))


def test_duplicate_a_step_places_the_copy_right_after_it(editor):
    audience = make_audience()
    campaign = make_campaign(
        audience,
        [
            {"channel": "email", "subject": "First"},
            {"channel": "email", "subject": "Second", "day_offset": 9},
        ],
        schedule=False,
    )
    first = campaign.steps[0]
    response = post(editor, f"/admin/steps/{first.id}/duplicate")
    assert response.status_code == 303 and "/edit" in response.headers["Location"]
    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign.id)
    assert [s.subject for s in campaign.steps] == ["First", "First", "Second"]
    assert [s.position for s in campaign.steps] == [0, 1, 2]
    assert "Step 2" in text(editor.get(f"/admin/campaigns/{campaign.id}"))


def test_viewers_cannot_copy_or_archive(viewer):
    audience = make_audience()
    campaign = make_campaign(audience, [{"channel": "email"}], schedule=False)
    assert post(viewer, f"/admin/campaigns/{campaign.id}/duplicate").status_code == 403
    assert post(viewer, f"/admin/campaigns/{campaign.id}/archive").status_code == 403
    assert db.session.query(Campaign).count() == 1
