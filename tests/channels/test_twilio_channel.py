"""TwilioChannel against the local fake Twilio: result mapping, retries, pacing."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.channels.base import Outcome, OutgoingSms
from outreach.channels.twilio import Pacer, TwilioChannel, threads_for_latency
from tests.fakes.providers import FakeProviders

ACCOUNT_SID = "AC" + "0" * 32
SERVICE_SID = "MG" + "1" * 32
CALLBACK = "https://outreach.example.org/webhooks/twilio/status"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProviders]:
    with FakeProviders() as providers:
        yield providers


@pytest.fixture(autouse=True)
def _fresh(fake: FakeProviders) -> None:
    fake.reset()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_channel(fake: FakeProviders, sleeps: list[float], **options: object) -> TwilioChannel:
    settings: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": "token",
        "messaging_service_sid": SERVICE_SID,
        "api_base": fake.base_url,
        "sleep": sleeps.append,
    }
    settings.update(options)
    return TwilioChannel(**settings)  # type: ignore[arg-type]


def sms(i: int, to: str | None = None, callback: str | None = CALLBACK) -> OutgoingSms:
    return OutgoingSms(
        i, to or f"+1202555{i:04d}", f"Migraine month tip {i}. STOP to end", callback
    )


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "library-create"])
def test_results_map_each_error_and_the_rest_are_sent(fake, sleeps, direct):
    fake.configure(opted_out={"+12025550002"}, landlines={"+12025550004"})
    channel = make_channel(fake, sleeps, direct=direct)
    messages = [sms(i) for i in range(1, 7)] + [sms(7, to="12345")]

    results = channel.send_many(messages)

    assert [r.message_id for r in results] == [1, 2, 3, 4, 5, 6, 7]
    by_id = {r.message_id: r for r in results}
    assert by_id[2].outcome is Outcome.OPTED_OUT and by_id[2].error_code == "21610"
    assert by_id[4].outcome is Outcome.INVALID_NUMBER and by_id[4].error_code == "21614"
    assert by_id[7].outcome is Outcome.INVALID_NUMBER and by_id[7].error_code == "21211"
    for i in (1, 3, 5, 6):
        assert by_id[i].outcome is Outcome.SENT
        assert re.fullmatch(r"SM[0-9a-f]{32}", by_id[i].provider_id)
    assert sorted(m["to"] for m in fake.sent_sms) == [sms(i).to for i in (1, 3, 5, 6)]
    assert sleeps == []  # permanent errors are never retried


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "library-create"])
def test_request_carries_to_body_callback_and_sender(fake, sleeps, direct):
    make_channel(fake, sleeps, direct=direct).send_many([sms(1), sms(2, callback=None)])
    by_to = {m["to"]: m for m in fake.sent_sms}
    first, second = by_to[sms(1).to], by_to[sms(2).to]
    assert first["body"] == sms(1).body
    assert first["messaging_service_sid"] == SERVICE_SID and first["from"] is None
    assert first["status_callback"] == CALLBACK
    assert second["status_callback"] is None

    fake.reset()
    channel = make_channel(
        fake, sleeps, messaging_service_sid=None, from_number="+12025550100", direct=direct
    )
    channel.send_many([sms(3)])
    (record,) = fake.sent_sms
    assert record["from"] == "+12025550100" and record["messaging_service_sid"] is None


def test_429_honours_retry_after_then_sends(fake, sleeps):
    fake.fail_next(1, status=429, api="sms", retry_after=3)

    (result,) = make_channel(fake, sleeps).send_many([sms(1)])

    assert result.outcome is Outcome.SENT
    assert sleeps == [3.0]
    assert len(fake.sent_sms) == 1


def test_5xx_retried_then_retry_outcome(fake, sleeps):
    fake.fail_next(3, status=500, api="sms", retry_after=None)

    (result,) = make_channel(fake, sleeps, max_retries=2).send_many([sms(1)])

    assert result.outcome is Outcome.RETRY
    assert result.error_code == "20500"
    assert result.retry_after is not None
    assert len(sleeps) == 2
    assert fake.sent_sms == []


def test_bad_credentials_fail_and_stop_the_call(fake, sleeps):
    fake.configure(twilio_auth_token="right")
    channel = make_channel(fake, sleeps, auth_token="wrong", concurrency=2)

    results = channel.send_many([sms(i) for i in range(1, 41)])

    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert "TWILIO_AUTH_TOKEN" in results[0].error_detail
    assert fake.stats()["rejected"] <= 2  # the other threads stopped asking


def test_read_timeout_is_unknown(fake, sleeps):
    fake.configure(latency=0.5)

    (result,) = make_channel(fake, sleeps, timeout=0.2).send_many([sms(1)])

    assert result.outcome is Outcome.UNKNOWN
    assert result.error_code == "timeout"
    assert sleeps == []


def test_api_base_wins_over_twilio_region_in_the_environment(fake, sleeps, monkeypatch):
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")

    (result,) = make_channel(fake, sleeps).send_many([sms(1)])

    assert result.outcome is Outcome.SENT


def test_pacing_20_messages_at_50_per_second(fake, sleeps):
    sender = "+1202" + uuid.uuid4().hex[:7].translate(str.maketrans("abcdef", "123456"))
    channel = make_channel(
        fake, sleeps, messaging_service_sid=None, from_number=sender, mps=50, concurrency=8
    )

    started = time.monotonic()
    results = channel.send_many([sms(i) for i in range(1, 21)])
    elapsed = time.monotonic() - started

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert 0.36 <= elapsed < 1.5  # 19 intervals of 20 ms


def test_pacer_keeps_a_fixed_schedule_and_banks_no_credit():
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    pacer = Pacer(10, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert waits == [0.1, 0.1]  # first slot at once, then 100 ms apart
    now[0] += 0.15  # 50 ms late for the slot at 100.3: no wait, and the schedule is kept
    pacer.wait()
    pacer.wait()
    assert waits == [0.1, 0.1, 0.05]
    now[0] += 60  # idle: the schedule restarts, no burst of saved-up slots
    pacer.wait()
    pacer.wait()
    assert waits == [0.1, 0.1, 0.05, 0.1]


def test_a_sender_is_required(fake, sleeps):
    with pytest.raises(ValueError, match="TWILIO_MESSAGING_SERVICE_SID"):
        make_channel(fake, sleeps, messaging_service_sid=None)


def test_a_slow_provider_gets_its_texts_in_parallel(fake, sleeps):
    fake.configure(latency=0.05)
    channel = make_channel(fake, sleeps, concurrency=8)

    started = time.monotonic()
    results = channel.send_many([sms(i) for i in range(1, 25)])
    elapsed = time.monotonic() - started

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert [r.message_id for r in results] == list(range(1, 25))  # input order kept
    assert elapsed < 0.6  # one after another would take 24 x 50 ms = 1.2 s


@pytest.mark.parametrize(
    ("wall", "cpu", "most", "threads"),
    [
        (0.150, 0.0005, 16, 16),  # Twilio's latency: every allowed thread
        (0.0006, 0.0005, 16, 1),  # a provider next door: threads would only queue
        (0.002, 0.0005, 16, 4),
        (0.150, 0.0005, 1, 1),
        (0.150, 0.0, 16, 16),  # no measurable CPU
        (0.0, 0.0, 16, 1),
    ],
)
def test_threads_follow_the_providers_latency(wall, cpu, most, threads):
    assert threads_for_latency(wall, cpu, most) == threads


@given(
    st.floats(0, 60, allow_nan=False),
    st.floats(0, 60, allow_nan=False),
    st.floats(0, 60, allow_nan=False),
    st.integers(-2, 64),
)
def test_threads_stay_between_one_and_the_cap_and_grow_with_latency(wall, more, cpu, most):
    fewer = threads_for_latency(wall, cpu, most)
    assert 1 <= fewer <= max(1, most)
    assert threads_for_latency(wall + more, cpu, most) >= fewer
