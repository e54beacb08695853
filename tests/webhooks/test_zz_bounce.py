import json, time
from sqlalchemy import insert, select
from outreach.extensions import db
from outreach.models import Subscription
from tests.webhooks.test_sendgrid_events import event, URL
from tests.webhooks.conftest import bulk_email_messages
from tests.helpers import sendgrid_headers

def test_bounces(client, email_step, audience, is_postgres):
    rows = bulk_email_messages(email_step, 1000, "bulkid")
    from outreach.models import Message
    ids = [sid for (sid,) in db.session.execute(select(Message.subscriber_id).where(Message.step_id == email_step.id))]
    db.session.execute(insert(Subscription), [{"subscriber_id": i, "audience_id": audience.id, "channel": "email", "state": "active"} for i in ids])
    db.session.commit()
    events = [event("bounce" if n % 2 else "spamreport", type="bounce", email=e, message_id=str(m)) for n, (m, e) in enumerate(rows)]
    body = json.dumps(events)
    t = time.perf_counter()
    r = client.post(URL, data=body, headers=sendgrid_headers(body))
    print("\n1000 bounces/spam", is_postgres, time.perf_counter() - t, r.get_json()["counts"])
