"""The requests the channels send are valid against the providers' own OpenAPI files.

Stoplight Prism serves a validating mock of each description (``--errors``: a request
that breaks the description gets 400 / 422 instead of the documented success). Install
it with ``npm install --prefix .tools @stoplight/prism-cli@5.14.2`` (``make`` does).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome, OutgoingSms
from outreach.channels.sendgrid import SendGridChannel
from outreach.channels.twilio import TwilioChannel

ROOT = Path(__file__).resolve().parents[2]
PRISM = ROOT / ".tools" / "node_modules" / ".bin" / "prism"
SPECS = ROOT.parent / "shared" / "specs"
ACCOUNT_SID = "AC" + "a1" * 16
SERVICE_SID = "MG" + "b2" * 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prism(spec: str, log_path: Path) -> Iterator[str]:
    if not PRISM.exists():
        pytest.skip(
            "Stoplight Prism is not installed: run "
            "`npm install --prefix .tools @stoplight/prism-cli@5.14.2`"
        )
    if not (SPECS / spec).exists():
        pytest.skip(f"provider description {SPECS / spec} is missing")
    port = _free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "--errors", str(SPECS / spec)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"Prism exited early:\n{log_path.read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not listen within 60 s ({spec})")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def sendgrid_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _prism("sendgrid_mail_v3.json", tmp_path_factory.mktemp("prism") / "sg.log")


@pytest.fixture(scope="module")
def twilio_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _prism("twilio_api_v2010.json", tmp_path_factory.mktemp("prism") / "tw.log")


def make_batch(from_email: str = "news@clinic.example.org") -> EmailBatch:
    return EmailBatch(
        from_email=from_email,
        from_name="Clinic News",
        subject="June is migraine awareness month, -first_name-",
        html="<p>Hello -first_name-</p>",
        text="Hello -first_name-",
        recipients=tuple(
            EmailRecipient(
                i,
                f"user{i}@example.org",
                {"-first_name-": f"Name{i}"},
                {
                    "List-Unsubscribe": f"<https://outreach.example.org/unsubscribe/t{i}>, "
                    f"<mailto:unsubscribe@clinic.example.org?subject=t{i}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
            for i in range(1, 4)
        ),
        categories=("june-awareness", "step-1"),
        reply_to="replies@clinic.example.org",
    )


def test_sendgrid_batch_matches_the_mail_send_description(sendgrid_mock):
    channel = SendGridChannel("SG.test", api_host=sendgrid_mock, sleep=lambda _: None)
    results = channel.send_batch(make_batch())
    assert {r.outcome for r in results} == {Outcome.SENT}, results


def test_sendgrid_mock_really_validates(sendgrid_mock):
    channel = SendGridChannel("SG.test", api_host=sendgrid_mock, sleep=lambda _: None)
    results = channel.send_batch(make_batch(from_email="not-an-address"))
    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert {r.error_code for r in results} == {"400"}


@pytest.mark.parametrize(
    "sender",
    [{"messaging_service_sid": SERVICE_SID}, {"from_number": "+12025550100"}],
    ids=["messaging-service", "from-number"],
)
def test_twilio_message_matches_the_messages_description(twilio_mock, sender):
    channel = TwilioChannel(
        ACCOUNT_SID, "token", api_base=twilio_mock, sleep=lambda _: None, **sender
    )
    message = OutgoingSms(
        1,
        "+12025550101",
        "June is migraine awareness month. Reply STOP to opt out.",
        "https://outreach.example.org/webhooks/twilio/status",
    )
    (result,) = channel.send_many([message])
    assert result.outcome is Outcome.SENT, result
    assert result.provider_id and result.provider_id.startswith("SM")


def test_twilio_mock_really_validates(twilio_mock):
    channel = TwilioChannel(
        ACCOUNT_SID,
        "token",
        messaging_service_sid="MG-not-a-service-sid",
        api_base=twilio_mock,
        sleep=lambda _: None,
    )
    (result,) = channel.send_many([OutgoingSms(1, "+12025550101", "hello")])
    assert result.outcome is Outcome.FAILED
    assert result.error_code == "422"
