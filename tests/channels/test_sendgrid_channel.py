"""SendGridChannel against the local fake SendGrid: batching, retries, error mapping."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome
from outreach.channels.sendgrid import SendGridChannel
from tests.fakes.providers import FakeProviders


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    with FakeProviders(keep_bodies=True) as providers:
        yield providers


@pytest.fixture(autouse=True)
def _fresh(fake: FakeProviders) -> None:
    fake.reset()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def channel(fake: FakeProviders, sleeps: list[float]) -> Iterator[SendGridChannel]:
    sendgrid = SendGridChannel("SG.test", api_host=fake.base_url, sleep=sleeps.append)
    yield sendgrid
    sendgrid.close()


def recipient(i: int, address: str | None = None) -> EmailRecipient:
    return EmailRecipient(
        message_id=i,
        to=address or f"user{i}@example.org",
        substitutions={"-first_name-": f"Name{i}"},
        headers={
            "List-Unsubscribe": f"<https://outreach.example.org/unsubscribe/t{i}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def make_batch(count: int, start: int = 1, **overrides: object) -> EmailBatch:
    fields: dict[str, object] = {
        "from_email": "news@clinic.example.org",
        "from_name": "Clinic News",
        "subject": "June is migraine awareness month, -first_name-",
        "html": "<p>Hello -first_name-</p>",
        "text": "Hello -first_name-",
        "recipients": tuple(recipient(i) for i in range(start, start + count)),
        "categories": ("june-awareness",),
    }
    fields.update(overrides)
    return EmailBatch(**fields)  # type: ignore[arg-type]


def test_2500_recipients_go_in_three_requests_and_are_all_sent(channel, fake):
    results = channel.send_batch(make_batch(2500))

    assert fake.email_requests == [1000, 1000, 500]
    assert sorted(r.message_id for r in results) == list(range(1, 2501))
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert all(r.provider_id for r in results)
    assert len({r.provider_id for r in results}) == 3  # one X-Message-Id per request
    assert sorted(fake.sent_email_ids) == list(range(1, 2501))


def test_request_body_has_the_documented_shape(channel, fake):
    batch = make_batch(2, reply_to="replies@clinic.example.org", categories=("a", "a", "b"))
    channel.send_batch(batch)

    (body,) = fake.email_bodies
    assert body["from"] == {"email": "news@clinic.example.org", "name": "Clinic News"}
    assert body["reply_to"] == {"email": "replies@clinic.example.org"}
    assert body["subject"] == batch.subject
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert body["categories"] == ["a", "b"]
    assert "custom_args" not in body  # the spec types the top-level one as a string
    first = body["personalizations"][0]
    assert first["to"] == [{"email": "user1@example.org"}]
    assert first["custom_args"] == {"message_id": "1"}
    assert first["substitutions"] == {"-first_name-": "Name1"}
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_requests_are_also_split_by_size(channel, fake):
    channel.max_request_bytes = 20_000
    results = channel.send_batch(make_batch(200))

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(fake.email_requests) > 1
    assert sum(fake.email_requests) == 200
    for body in fake.email_bodies:
        assert len(json.dumps(body, separators=(",", ":"))) < 20_000


def test_429_waits_for_retry_after_then_succeeds(channel, fake, sleeps):
    fake.fail_next(1, status=429, api="email", retry_after=7)

    results = channel.send_batch(make_batch(3))

    assert sleeps == [7.0]
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(fake.sent_email_ids) == [1, 2, 3]


def test_429_after_max_retries_is_retry_with_retry_after(channel, fake, sleeps):
    fake.fail_next(4, status=429, api="email", retry_after=2)

    results = channel.send_batch(make_batch(1500))

    assert sleeps == [2.0, 2.0, 2.0]  # max_retries=3
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert {r.retry_after for r in results} == {2.0}
    assert len(results) == 1500
    assert fake.sent_email_ids == []  # the second request was not even tried


def test_5xx_is_retried_with_exponential_backoff(channel, fake, sleeps):
    fake.fail_next(2, status=503, api="email", retry_after=None)

    results = channel.send_batch(make_batch(2))

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_400_for_one_address_fails_it_and_sends_the_others(channel, fake):
    fake.configure(bad_addresses={"user2@example.org"})

    results = {r.message_id: r for r in channel.send_batch(make_batch(3))}

    assert results[2].outcome is Outcome.FAILED
    assert results[2].error_code == "400"
    assert results[2].error_detail == "Does not contain a valid address."
    assert results[1].outcome is results[3].outcome is Outcome.SENT
    assert sorted(fake.sent_email_ids) == [1, 3]


def test_400_for_the_whole_request_fails_every_recipient_with_the_reason(channel, fake):
    results = channel.send_batch(make_batch(3, from_email="not-an-address"))

    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert {r.error_code for r in results} == {"400"}
    assert all("from email does not contain a valid address" in r.error_detail for r in results)


def test_401_fails_clearly_and_stops_the_batch(fake, sleeps):
    fake.configure(sendgrid_api_key="SG.right")
    channel = SendGridChannel("SG.wrong", api_host=fake.base_url, sleep=sleeps.append)

    results = channel.send_batch(make_batch(2500))

    assert len(results) == 2500
    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert {r.error_code for r in results} == {"401"}
    assert "SENDGRID_API_KEY" in results[0].error_detail
    assert fake.stats()["rejected"] == 1  # later requests were not made
    assert sleeps == []


def test_read_timeout_is_unknown_and_later_requests_wait(fake, sleeps):
    fake.configure(latency=0.5)
    channel = SendGridChannel("SG.test", api_host=fake.base_url, timeout=0.2, sleep=sleeps.append)

    results = {r.message_id: r for r in channel.send_batch(make_batch(1500))}

    assert results[1].outcome is Outcome.UNKNOWN  # the provider did accept it ...
    deadline = time.monotonic() + 5  # (on a busy machine the fake may still be recording it)
    while len(fake.sent_email_ids) < 1000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(fake.sent_email_ids) == list(range(1, 1001))  # ... so no blind resend
    assert results[1500].outcome is Outcome.RETRY
    assert results[1500].error_code == "not_attempted"
    assert sleeps == []


def test_connection_refused_is_retried_then_retry(sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = SendGridChannel("SG.test", api_host=f"http://127.0.0.1:{port}", sleep=sleeps.append)

    results = channel.send_batch(make_batch(2))

    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert {r.error_code for r in results} == {"connection"}
    assert len(sleeps) == 3


def test_empty_batch_and_missing_content(channel, fake):
    assert channel.send_batch(make_batch(0)) == []
    results = channel.send_batch(make_batch(2, html="", text=""))
    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert fake.stats()["email_requests"] == 0


def test_an_api_key_is_required():
    with pytest.raises(ValueError, match="SENDGRID_API_KEY"):
        SendGridChannel("")
