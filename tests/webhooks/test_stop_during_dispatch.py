"""An acknowledged STOP is honoured before the next claim, even mid-dispatch.

Dispatch runs in a thread, sending texts through a fake channel that notes when each send
starts and takes a little while per message. While it works through small batches, the main
thread posts a signed STOP for one recipient. After the 200 nothing may go to that number:
the opt-out either waited for the batch in flight (PostgreSQL: its FOR SHARE lock on the
subscription; SQLite: the writer lock) or was committed before the next claim saw the row.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from outreach.extensions import db
from outreach.models import Message, Subscriber
from outreach.sending import batch
from outreach.sending import materialise as materialising
from outreach.sending import run as sending
from tests.factories import make_campaign, make_subscriber
from tests.helpers import post_twilio
from tests.webhooks.conftest import TimedChannels

PEOPLE = 24
BATCH = 3
DELAY = 0.02  # seconds per text: one batch takes ~60 ms


@pytest.mark.parametrize("position", ["in_first_batch", "middle", "last"])
def test_no_text_after_an_acknowledged_stop(app, client, clock, audience, position):
    now = clock()
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))  # they joined before the step was due
    people = [
        make_subscriber(audience, phone=f"+1917555{1000 + n:04d}", email=None, channels=("sms",))
        for n in range(PEOPLE)
    ]
    make_campaign(audience, [{"channel": "sms", "send_time": "10:00", "body": "June news."}])
    clock.set(now)
    assert materialising.materialise_due(clock()) == PEOPLE
    rows = dict(db.session.execute(select(Message.subscriber_id, Message.id)).all())
    # Claims go by (due_at, id): give the target a due time that puts it where we want it.
    target = people[PEOPLE // 2]
    order = {"in_first_batch": -timedelta(hours=2), "middle": None, "last": -timedelta(seconds=1)}
    if order[position] is not None:
        db.session.execute(
            update(Message)
            .where(Message.id == rows[target.id])
            .values(due_at=clock() + order[position])
        )
    db.session.commit()
    phone = target.phone

    app.config["OUTREACH_BATCH_SIZE"] = BATCH
    channels = TimedChannels(delay=DELAY).install(app)
    errors: list[BaseException] = []
    report = batch.Report()

    def run() -> None:
        with app.app_context():
            try:
                sending.dispatch_channel("sms", clock(), report)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                db.session.remove()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert channels.started.wait(10), "dispatch never started sending"
    response = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + "f" * 32, "From": phone, "Body": "STOP"},
    )
    acknowledged = time.monotonic()
    assert response.status_code == 200
    worker.join(60)
    assert not worker.is_alive() and not errors, errors

    to_target = [t for t, to in channels.sent if to == phone]
    after_ack = [to for t, to in channels.sent if t > acknowledged]
    print(
        f"\n{position}: {len(channels.sent)} sent, {len(after_ack)} after the STOP's 200, "
        f"target sent {len(to_target)}x"
    )
    assert all(t < acknowledged for t in to_target), "a text went out after the STOP's 200"
    assert phone not in after_ack
    assert report.sent == len(channels.sent)
    db.session.expire_all()
    row = db.session.get(Message, rows[target.id])
    if to_target:
        assert row.state == "sent"
    else:
        assert row.state in ("cancelled", "skipped"), row.state
    if position == "last":
        # The STOP was acknowledged while batches were still going out, and it held.
        assert after_ack, "dispatch finished before the STOP was acknowledged"
        assert not to_target
    others = {s.phone for s in db.session.scalars(select(Subscriber)) if s.phone != phone}
    assert {to for _, to in channels.sent} - {phone} == others  # everyone else got one
