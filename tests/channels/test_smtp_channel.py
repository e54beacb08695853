"""SmtpChannel against a local aiosmtpd relay: the message, one connection per batch,
STARTTLS / TLS + AUTH, 421 / 451 / 550 answers, a connection dropped mid-batch."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome
from outreach.channels.smtp import SmtpChannel, is_hard_bounce
from outreach.channels.smtp_message import parse_smtp_url

Rule = Callable[[str], str | None]


class Relay:
    """An aiosmtpd handler that keeps what it accepted and answers as scripted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.rcpt: Rule = lambda address: None  # a reply instead of 250, or None
        self.data: Rule = lambda address: None
        self.drop_at_rcpt: str | None = None  # close the connection on RCPT of this address
        self.drop_at_data: str | None = None  # close it once this address's DATA arrived

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        if address == self.drop_at_rcpt:
            server.transport.close()
            return "250 OK"
        reply = self.rcpt(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        address = envelope.rcpt_tos[0]
        if address == self.drop_at_data:
            server.transport.close()
            return "250 OK"
        reply = self.data(address)
        if reply:
            return reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=policy.default)
        )
        return "250 2.0.0 Ok: queued as ABC123"


class CountingController(Controller):
    """Counts the connections the relay served (one SMTP protocol object each)."""

    connections = 0

    def factory(self):  # noqa: ANN201
        self.connections += 1
        return super().factory()

    def start(self) -> None:
        super().start()
        self.connections = 0  # not the controller's own readiness probe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1: (cert file, key file, PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("relay-tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder / "cert.pem", folder / "key.pem", pem


def _server_context(certificate: tuple[Path, Path, bytes]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[0], certificate[1])
    return context


def _authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"clinic", b"s3cret p@ss")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def relay() -> Iterator[tuple[Relay, CountingController]]:
    handler = Relay()
    controller = CountingController(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield handler, controller
    controller.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def channel(relay: tuple[Relay, CountingController], sleeps: list[float]) -> SmtpChannel:
    return SmtpChannel(f"smtp://127.0.0.1:{relay[1].port}", timeout=5, sleep=sleeps.append)


def recipient(i: int, address: str | None = None) -> EmailRecipient:
    return EmailRecipient(
        message_id=i,
        to=address or f"user{i}@example.org",
        substitutions={
            "-first_name-": f"Name{i}",
            "-unsubscribe_url-": f"https://o.example/u/t{i}",
        },
        headers={
            "List-Unsubscribe": (
                f"<https://o.example/u/t{i}>, <mailto:unsub@o.example?subject=t{i}>"
            ),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def make_batch(count: int, **overrides: object) -> EmailBatch:
    fields: dict[str, object] = {
        "from_email": "news@clinic.example.org",
        "from_name": "Clinic News",
        "subject": "June is migraine awareness month, -first_name-",
        "html": '<p>Hello -first_name-</p><a href="-unsubscribe_url-">Unsubscribe</a>',
        "text": "Hello -first_name-\nUnsubscribe: -unsubscribe_url-",
        "recipients": tuple(recipient(i) for i in range(1, count + 1)),
        "categories": ("june-awareness", "headache clinic"),
        "reply_to": "care@clinic.example.org",
    }
    fields.update(overrides)
    return EmailBatch(**fields)  # type: ignore[arg-type]


def by_id(results: list) -> dict:  # noqa: ANN001
    return {r.message_id: r for r in results}


def test_a_batch_goes_over_one_connection_each_recipient_with_their_own_message(
    relay, channel
) -> None:
    handler, controller = relay
    results = channel.send_batch(make_batch(3))
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    assert controller.connections == 1
    assert [to for _, (to,) in handler.envelopes] == [f"user{i}@example.org" for i in (1, 2, 3)]
    assert {sender for sender, _ in handler.envelopes} == {"news@clinic.example.org"}
    first = handler.messages[0]
    assert first["From"] == "Clinic News <news@clinic.example.org>"
    assert first["To"] == "user1@example.org"
    assert first["Subject"] == "June is migraine awareness month, Name1"
    assert first["Reply-To"] == "care@clinic.example.org"
    assert first["List-Unsubscribe"] == (
        "<https://o.example/u/t1>, <mailto:unsub@o.example?subject=t1>"
    )
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    message_id = first["Message-ID"]
    assert message_id.startswith("<outreach.1.") and message_id.endswith("@clinic.example.org>")
    assert results[0].provider_id == message_id.strip("<>").partition("@")[0]
    assert first.get_content_type() == "multipart/alternative"
    text = first.get_body(("plain",)).get_content()
    html = first.get_body(("html",)).get_content()
    assert "Hello Name1" in text and "https://o.example/u/t1" in text
    assert "<p>Hello Name1</p>" in html and 'href="https://o.example/u/t1"' in html
    # No categories, campaign names or other extra headers go to the relay.
    assert not [k for k in first if k.lower().startswith("x-")]
    assert "headache" not in handler.messages[0].as_string()
    assert handler.messages[2]["Subject"].endswith("Name3")


def test_starttls_and_login_once_per_batch(certificate, sleeps) -> None:
    handler = Relay()
    controller = CountingController(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        tls_context=_server_context(certificate),
        require_starttls=True,
        authenticator=_authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        client = ssl.create_default_context(cadata=certificate[2].decode())
        url = f"smtp://clinic:s3cret%20p%40ss@127.0.0.1:{controller.port}?starttls=1"
        channel = SmtpChannel(url, timeout=5, sleep=sleeps.append, ssl_context=client)
        results = channel.send_batch(make_batch(2))
        assert [r.outcome for r in results] == [Outcome.SENT] * 2
        assert controller.connections == 1 and len(handler.messages) == 2

        wrong = SmtpChannel(
            url.replace("s3cret", "wrong"), timeout=5, sleep=sleeps.append, ssl_context=client
        )
        refused = wrong.send_batch(make_batch(2))
        assert {r.outcome for r in refused} == {Outcome.FAILED}
        assert "refused the login" in refused[0].error_detail
        assert "OUTREACH_SMTP_URL" in refused[0].error_detail

        untrusted = SmtpChannel(url, timeout=5, sleep=sleeps.append)  # system CAs only
        failed = untrusted.send_batch(make_batch(1))
        assert failed[0].outcome is Outcome.FAILED and "certificate" in failed[0].error_detail
        assert len(handler.messages) == 2
    finally:
        controller.stop()


def test_implicit_tls_smtps(certificate, sleeps) -> None:
    handler = Relay()
    controller = CountingController(
        handler,
        hostname="127.0.0.1",
        port=_free_port(),
        ssl_context=_server_context(certificate),
        authenticator=_authenticator,
        auth_require_tls=False,  # TLS from the start: aiosmtpd does not see it as TLS
    )
    controller.start()
    try:
        client = ssl.create_default_context(cadata=certificate[2].decode())
        url = f"smtps://clinic:s3cret%20p%40ss@127.0.0.1:{controller.port}"
        channel = SmtpChannel(url, timeout=5, sleep=sleeps.append, ssl_context=client)
        assert [r.outcome for r in channel.send_batch(make_batch(2))] == [Outcome.SENT] * 2
        assert len(handler.messages) == 2
    finally:
        controller.stop()


def test_connection_dropped_during_data_is_unknown_and_the_rest_retry(relay, channel) -> None:
    handler, controller = relay
    handler.drop_at_data = "user2@example.org"
    results = by_id(channel.send_batch(make_batch(4)))
    assert results[1].outcome is Outcome.SENT
    assert results[2].outcome is Outcome.UNKNOWN  # the relay may have queued it
    assert results[3].outcome is Outcome.RETRY and results[3].error_code == "not_attempted"
    assert results[4].outcome is Outcome.RETRY
    assert len(handler.messages) == 1 and controller.connections == 1  # never re-sent


def test_connection_dropped_before_data_retries_that_recipient(relay, channel) -> None:
    handler, _ = relay
    handler.drop_at_rcpt = "user2@example.org"
    results = by_id(channel.send_batch(make_batch(3)))
    assert results[1].outcome is Outcome.SENT
    assert results[2].outcome is Outcome.RETRY and results[2].error_code == "connection"
    assert results[3].outcome is Outcome.RETRY


def test_451_is_retried_with_backoff_in_the_call(relay, channel, sleeps) -> None:
    handler, controller = relay
    answered: list[str] = []

    def greylist(address: str) -> str | None:
        if address == "user2@example.org" and address not in answered:
            answered.append(address)
            return "451 4.7.1 Greylisted, try again later"
        return None

    handler.rcpt = greylist
    results = by_id(channel.send_batch(make_batch(3)))
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.5
    assert controller.connections == 2  # the batch, then the one deferred recipient
    assert sorted(to for _, (to,) in handler.envelopes) == [
        "user1@example.org",
        "user2@example.org",
        "user3@example.org",
    ]


def test_451_that_persists_returns_retry_after_a_few_tries(relay, channel, sleeps) -> None:
    handler, _ = relay
    handler.data = lambda address: "451 4.3.0 Local error in processing"
    results = channel.send_batch(make_batch(2))
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert results[0].error_code == "451 4.3.0"
    assert results[0].retry_after is not None and results[0].retry_after > 0
    assert len(sleeps) == channel.max_retries


def test_421_closes_the_connection_and_the_rest_go_on_a_new_one(relay, channel, sleeps) -> None:
    handler, controller = relay
    said: list[str] = []

    def closing(address: str) -> str | None:
        if address == "user2@example.org" and not said:
            said.append(address)
            return "421 4.3.2 Service shutting down"
        return None

    handler.rcpt = closing
    results = by_id(channel.send_batch(make_batch(4)))
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert controller.connections == 2 and len(sleeps) == 1
    assert len(handler.messages) == 4


def test_550_user_unknown_bounces_and_other_5xx_fail_with_the_reason(relay, channel) -> None:
    handler, controller = relay
    handler.rcpt = lambda a: (
        "550 5.1.1 <user2@example.org>: Recipient address rejected: User unknown"
        if a == "user2@example.org"
        else None
    )
    handler.data = lambda a: (
        "554 5.7.1 Message rejected: content policy" if a == "user3@example.org" else None
    )
    results = by_id(channel.send_batch(make_batch(4)))
    assert results[2].outcome is Outcome.BOUNCED and results[2].error_code == "550 5.1.1"
    assert "User unknown" in results[2].error_detail
    assert "user2@example.org" not in results[2].error_detail  # the address is not repeated
    assert results[3].outcome is Outcome.FAILED and results[3].error_code == "554 5.7.1"
    assert "content policy" in results[3].error_detail
    assert results[1].outcome is results[4].outcome is Outcome.SENT
    assert controller.connections == 1


def test_sender_refused_fails_the_whole_batch(relay, channel) -> None:
    handler, _ = relay

    async def refuse_sender(server, session, envelope, address, options):  # noqa: ANN001, ANN202
        return "553 5.7.1 Sender address rejected: not owned by user"

    handler.handle_MAIL = refuse_sender  # type: ignore[attr-defined]
    results = channel.send_batch(make_batch(3))
    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert len(results) == 3 and "refused the sender" in results[2].error_detail
    assert handler.messages == []


def test_an_unreachable_relay_is_retried_then_left_to_the_queue(sleeps) -> None:
    channel = SmtpChannel(f"smtp://127.0.0.1:{_free_port()}", timeout=2, sleep=sleeps.append)
    results = channel.send_batch(make_batch(2))
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert results[0].error_code == "connection" and len(sleeps) == channel.max_retries


def test_pacing_spaces_messages(relay) -> None:
    channel = SmtpChannel(f"smtp://127.0.0.1:{relay[1].port}?mps=10")
    started = time.monotonic()
    assert [r.outcome for r in channel.send_batch(make_batch(3))] == [Outcome.SENT] * 3
    assert time.monotonic() - started >= 0.19  # three messages at 10/s: two gaps of 0.1 s


def test_long_unsubscribe_links_stay_whole(relay, channel) -> None:
    handler, _ = relay
    url = "https://outreach.clinic.example/unsubscribe/" + "t" * 180
    person = EmailRecipient(
        5,
        "p@example.org",
        {"-first_name-": "Zoë"},
        {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    assert channel.send_batch(make_batch(1, recipients=(person,)))[0].outcome is Outcome.SENT
    received = handler.messages[0]
    assert received["List-Unsubscribe"] == f"<{url}>"
    assert received["Subject"].endswith("Zoë")
    assert "Hello Zoë" in received.get_body(("plain",)).get_content()


def test_a_name_with_a_line_break_cannot_add_headers(relay, channel) -> None:
    handler, _ = relay
    person = EmailRecipient(7, "p@example.org", {"-first_name-": "Eve\r\nBcc: x@evil.example"})
    results = channel.send_batch(make_batch(1, recipients=(person,)))
    assert results[0].outcome is Outcome.SENT
    assert handler.messages[0]["Bcc"] is None
    assert [to for _, (to,) in handler.envelopes] == ["p@example.org"]


@pytest.mark.parametrize(
    ("status", "text", "bounce"),
    [
        (550, "5.1.1 The email account that you tried to reach does not exist", True),
        (550, "5.1.10 RESOLVER.ADR.RecipientNotFound", True),
        (550, "User unknown", True),
        (550, "5.7.1 Relaying denied", False),
        (554, "5.7.1 Spam", False),
        (452, "4.2.2 Mailbox full", False),
    ],
)
def test_which_answers_are_hard_bounces(status: int, text: str, bounce: bool) -> None:
    assert is_hard_bounce(status, text) is bounce


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://relay.example", "smtp://"),
        ("smtp://", "no host"),
        ("smtp://user:pw@relay.example:25", "unencrypted"),
        ("smtp://relay.example?startls=1", "unknown parameter"),
        ("smtps://relay.example?starttls=1", "drop ?starttls=1"),
        ("smtp://relay.example:99999", "port"),
        ("smtp://relay.example?mps=fast", "mps"),
    ],
)
def test_bad_urls_are_explained(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("?", r"\?")):
        parse_smtp_url(url)


def test_url_defaults_and_decoding() -> None:
    settings = parse_smtp_url("smtp://a%40b.example:p%3Aw@relay.example?starttls=1&mps=2.5")
    assert (settings.port, settings.security, settings.username, settings.password) == (
        587,
        "starttls",
        "a@b.example",
        "p:w",
    )
    assert settings.mps == 2.5 and "p:w" not in repr(settings)
    assert parse_smtp_url("smtps://relay.example").port == 465
    assert parse_smtp_url("smtp://relay.example").port == 25


# -- through the dispatcher ----------------------------------------------------------------


def test_dispatch_sends_through_the_relay_and_a_5_1_1_suppresses(app, clock, relay) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from outreach.extensions import db
    from outreach.models import ConsentEvent, Message, Subscription, Suppression
    from outreach.sending import run as sending
    from tests.factories import make_audience, make_campaign, make_subscriber

    handler, controller = relay
    app.config.update(
        OUTREACH_EMAIL_CHANNEL="smtp", OUTREACH_SMTP_URL=f"smtp://127.0.0.1:{controller.port}"
    )
    app.extensions.pop("outreach.channels", None)
    handler.rcpt = lambda address: (
        "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"
        if address == "gone@example.org"
        else None
    )
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))
    audience = make_audience()
    ann = make_subscriber(audience, email="ann@example.org", first_name="Ann")
    gone = make_subscriber(audience, email="gone@example.org")
    make_campaign(audience, [{"channel": "email", "send_time": "10:00"}])
    clock.set(datetime(2027, 6, 1, 15, tzinfo=UTC))

    report = sending.dispatch_once()

    assert report.sent == 1 and report.failed == 1
    assert controller.connections == 1
    (received,) = handler.messages
    assert received["To"] == "ann@example.org"
    assert received["From"] == "NeuroMedici <news@neuromedici.example>"
    assert received["List-Unsubscribe"].startswith("<http")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Ann" in received.get_body(("html",)).get_content()
    rows = {m.subscriber_id: m for m in db.session.scalars(select(Message))}
    assert rows[ann.id].state == "sent"
    assert received["Message-ID"] == f"<{rows[ann.id].provider_id}@neuromedici.example>"
    assert received["Message-ID"].startswith(f"<outreach.{rows[ann.id].id}.")
    assert rows[gone.id].state == "failed" and rows[gone.id].error_code == "550 5.1.1"
    suppressed = db.session.scalars(select(Suppression).filter_by(channel="email")).all()
    assert [s.reason for s in suppressed] == ["hard_bounce"]
    assert (
        db.session.scalar(
            select(Subscription.state).filter_by(subscriber_id=gone.id, channel="email")
        )
        == "bounced"
    )
    ledger = db.session.scalars(
        select(ConsentEvent).filter_by(subscriber_id=gone.id, action="revoked")
    ).all()
    assert [(e.source, e.resulting_state) for e in ledger] == [("provider_event", "bounced")]
    assert (
        db.session.scalar(
            select(Subscription.state).filter_by(subscriber_id=ann.id, channel="email")
        )
        == "active"
    )
