"""Results page: ``/admin/campaigns/<id>/results`` and ``flask outreach stats`` over a
campaign of 1,000,000 outbox rows and 200,000 link clicks.

Seeding (not timed) is set-based SQL: ``INSERT ... SELECT`` over ``generate_series`` on
PostgreSQL (a recursive CTE on SQLite, for the smoke test): subscribers (one in ten reads
Spanish), four steps (email, text, email, text) with every state, three tracked links per
step, clicks on the email steps (one in ten a scanner's), opt-outs and consultation
requests. Then the page is fetched by a signed-in admin through the app (the first
request, then the median of the next ones), and ``stats`` (text and ``--json``) and the
API's stats are run the same way.

    python -m bench.results_page [--quick] [--messages N] [--clicks N] [--runs N]
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench.common import Figure, cli, database, make_app, make_audience, report

#: The campaign's first send (UTC); steps follow a day apart.
START = datetime(2027, 6, 1, 14, 0, tzinfo=UTC)
STEPS = ("email", "sms", "email", "sms")
LINKS = (
    "https://clinic.example/migraine",
    "https://clinic.example/headache-diary",
    "https://clinic.example/request/consultation",
)
PASSWORD = "bench-correct-horse-battery-staple-42"
PAGE_TARGET_MS = 500.0
STATS_TARGET_MS = 1000.0


# --------------------------------------------------------------------------- seeding


def _numbers(dialect: str, count: int) -> tuple[str, str]:
    """(WITH prefix, FROM source) yielding integers ``i`` = 1..count."""
    if dialect == "postgresql":
        return "", f"generate_series(1, {int(count)}) AS g(i)"
    return (
        f"WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {int(count)}) ",
        "g",
    )


def _at(dialect: str, minutes: str) -> str:
    """``START`` plus an SQL expression of minutes, as the column type stores it."""
    base = START.replace(tzinfo=None).isoformat(sep=" ")
    if dialect == "postgresql":
        return f"(timestamp '{base}' + ({minutes}) * interval '1 minute')"
    return f"(strftime('%Y-%m-%d %H:%M:%S', '{base}', ({minutes}) || ' minutes') || '.000000')"


def _campaign(audience_id: int) -> tuple[int, list[int]]:
    from outreach.extensions import db
    from outreach.models import Audience, Campaign, Step
    from outreach.tracking import links

    campaign = Campaign(
        name="June results",
        audience=db.session.get(Audience, audience_id),
        anchor_kind="date",
        anchor_date=START.date(),
        status="running",
    )
    for position, channel in enumerate(STEPS):
        body = " ".join(LINKS) if channel == "sms" else "Our June note"
        campaign.steps.append(
            Step(
                position=position,
                channel=channel,
                day_offset=position,
                send_time="10:00",
                subject=f"June, week {position + 1}",
                html="".join(f'<p><a href="{url}">{url}</a></p>' for url in LINKS),
                body=body,
            )
        )
    db.session.add(campaign)
    db.session.flush()
    step_ids = [step.id for step in campaign.steps]
    for step_id in step_ids:
        links.register(step_id, list(LINKS))
    db.session.commit()
    return campaign.id, step_ids


def seed_results(messages: int, clicks: int) -> int:
    """A running four-step campaign with ``messages`` outbox rows (a quarter per step) and
    up to ``clicks`` clicks on its email steps; returns the campaign id. Works on
    PostgreSQL and SQLite (the suite's database)."""
    from outreach.extensions import db

    dialect = db.engine.dialect.name
    people = max(messages // len(STEPS), 1)
    audience_id = make_audience("results")
    campaign_id, step_ids = _campaign(audience_id)
    prefix, source = _numbers(dialect, people)
    hex_id = "lpad(to_hex(i), 32, '0')" if dialect == "postgresql" else "printf('%032x', i)"
    created = _at(dialect, "-20160")
    db.session.execute(
        sa.text(
            f"{prefix}INSERT INTO subscribers (public_id, email, phone, first_name, timezone, "
            "language, phone_invalid, phone_unreachable, created_at) "
            f"SELECT {hex_id}, 'results' || i || '@example.org', '+1646' || (3000000 + i), "
            "'Reader', 'America/New_York', CASE WHEN i % 10 = 0 THEN 'es' ELSE 'en' END, "
            f"false, false, {created} FROM {source}"
        )
    )
    first_id = db.session.scalar(sa.text("SELECT min(id) FROM subscribers"))
    state = (
        "CASE WHEN i % 100 < 80 THEN 'delivered' WHEN i % 100 < 90 THEN 'sent' "
        "WHEN i % 100 < 93 THEN 'bounced' WHEN i % 100 < 95 THEN 'failed' "
        "WHEN i % 100 < 98 THEN 'skipped' ELSE 'cancelled' END"
    )
    for number, (step_id, channel) in enumerate(zip(step_ids, STEPS, strict=True)):
        sent = f"{number * 1440} + (i % 48) * 60"
        went = "i % 100 < 95"
        db.session.execute(
            sa.text(
                f"{prefix}INSERT INTO outbox_messages (campaign_id, step_id, subscriber_id, "
                "channel, state, skip_reason, due_at, sent_at, delivered_at, attempts, "
                "created_at, updated_at) "
                f"SELECT {campaign_id}, {step_id}, {first_id} - 1 + i, '{channel}', {state}, "
                "CASE WHEN i % 100 >= 98 THEN 'opted_out' WHEN i % 100 >= 95 "
                "THEN 'no_consent' END, "
                f"{_at(dialect, str(number * 1440))}, "
                f"CASE WHEN {went} THEN {_at(dialect, sent)} END, "
                f"CASE WHEN i % 100 < 80 THEN {_at(dialect, sent + ' + 5')} END, "
                f"1, {created}, {created} FROM {source}"
            )
        )
    # Clicks on delivered emails: every other one, a link each (1 in 10 by a scanner).
    db.session.execute(
        sa.text(
            "INSERT INTO link_clicks (message_id, campaign_id, step_id, link_position, human, "
            "reason, clicked_at) "
            "SELECT id, campaign_id, step_id, 1 + id % 3, id % 20 <> 0, "
            "CASE WHEN id % 20 = 0 THEN 'scanner' END, "
            + (
                "sent_at + interval '30 minutes' "
                if dialect == "postgresql"
                else "strftime('%Y-%m-%d %H:%M:%S', sent_at, '+30 minutes') || '.000000' "
            )
            + f"FROM outbox_messages WHERE campaign_id = {campaign_id} AND channel = 'email' "
            f"AND state = 'delivered' AND id % 2 = 0 ORDER BY id LIMIT {int(clicks)}"
        )
    )
    # One in 200 people opts out of email a day after the first step; 1 in 50 clickers
    # asks for a consultation.
    db.session.execute(
        sa.text(
            "INSERT INTO consent_events (subscriber_id, audience_id, channel, action, source, "
            "resulting_state, created_at) "
            f"SELECT subscriber_id, {audience_id}, 'email', 'revoked', 'unsubscribe_link', "
            f"'unsubscribed', {_at(dialect, '1500')} FROM outbox_messages "
            f"WHERE step_id = {step_ids[0]} AND subscriber_id % 200 = 0"
        )
    )
    db.session.execute(
        sa.text(
            "INSERT INTO consultation_requests (audience_id, name, email, contact_time, note, "
            "language, status, message_id, campaign_id, step_id, channel, created_at, "
            "updated_at) "
            f"SELECT {audience_id}, 'Reader', 'asker@example.org', 'any', '', 'en', 'new', "
            "message_id, campaign_id, step_id, 'email', clicked_at, clicked_at "
            "FROM link_clicks WHERE human AND message_id % 100 = 2"
        )
    )
    db.session.commit()
    if dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("subscribers", "outbox_messages", "link_clicks", "consent_events"):
                conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
    else:
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return campaign_id


# --------------------------------------------------------------------------- timing


def signed_in_client(app: Any) -> Any:
    """A test client signed in as a new admin through the sign-in form (over https)."""
    import re

    from outreach.extensions import db
    from outreach.staff import accounts

    accounts.create_staff("bench-admin@clinic.example", PASSWORD, "admin")
    db.session.commit()
    client = app.test_client()
    page = client.get("/admin/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    answer = client.post(
        "/admin/login",
        data={"csrf_token": token, "email": "bench-admin@clinic.example", "password": PASSWORD},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/admin/login"},
    )
    assert answer.status_code == 302, answer.status_code
    return client


def _timed(call: Any, runs: int) -> tuple[float, float, Any]:
    """(first call ms, median of ``runs`` more ms, the last answer)."""
    began = time.perf_counter()
    answer = call()
    first = (time.perf_counter() - began) * 1000
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - began) * 1000)
    return first, statistics.median(times) if times else first, answer


def time_page(client: Any, campaign_id: int, runs: int) -> tuple[float, float, str]:
    """The results page: (first ms, median ms, its HTML)."""

    def fetch() -> Any:
        answer = client.get(f"/admin/campaigns/{campaign_id}/results", base_url="https://localhost")
        assert answer.status_code == 200, answer.status_code
        return answer.get_data(as_text=True)

    return _timed(fetch, runs)


def time_stats(
    app: Any, campaign_id: int, runs: int, as_json: bool = False
) -> tuple[float, float, str]:
    """``flask outreach stats CAMPAIGN`` (``--json``): (first ms, median ms, output)."""
    runner = app.test_cli_runner()
    args = ["outreach", "stats", str(campaign_id), *(["--json"] if as_json else [])]

    def run() -> str:
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        return result.output

    return _timed(run, runs)


def time_api(app: Any, campaign_id: int, runs: int) -> tuple[float, float, dict]:
    """``GET /api/v1/campaigns/<id>/stats``: (first ms, median ms, the JSON)."""
    from outreach.extensions import db
    from outreach.staff import api_tokens

    _, token = api_tokens.create_api_token("bench results")
    db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def fetch() -> dict:
        answer = client.get(
            f"/api/v1/campaigns/{campaign_id}/stats", headers=headers, base_url="https://localhost"
        )
        assert answer.status_code == 200, answer.status_code
        return answer.get_json()

    return _timed(fetch, runs)


def measure(kind: str, messages: int, clicks: int, runs: int) -> list[Figure]:
    """Seed a fresh database, then time the page, ``stats``, ``stats --json`` and the API."""
    label = "PostgreSQL" if kind == "postgresql" else "SQLite"
    with database(kind, f"outreach_bench_results_{kind[:2]}") as url:
        app = make_app(url, OUTREACH_REQUIRE_2FA="0")
        with app.app_context():
            from outreach.extensions import db

            began = time.perf_counter()
            campaign_id = seed_results(messages, clicks)
            rows = db.session.scalar(sa.text("SELECT count(*) FROM outbox_messages"))
            clicked = db.session.scalar(sa.text("SELECT count(*) FROM link_clicks"))
            db.session.commit()
            print(f"  {kind}: seeded {rows:,} messages, {clicked:,} clicks "
                  f"in {time.perf_counter() - began:.1f}s")  # fmt: skip
            client = signed_in_client(app)
            db.session.remove()
            page_first, page, html = time_page(client, campaign_id, runs)
            text_first, text, _ = time_stats(app, campaign_id, runs)
            json_first, as_json, _ = time_stats(app, campaign_id, runs, as_json=True)
            api_first, api, answer = time_api(app, campaign_id, runs)
            assert 'id="funnel-chart"' in html and 'id="clicks-chart"' in html
            human = sum(step["clicks"] for step in answer["steps"])
            db.session.remove()
    size = f"{rows:,} messages, {clicked:,} clicks, {label}"
    note = f"median of {runs} after a first request"
    return [
        Figure(
            f"results page, {size}",
            page,
            "ms",
            f"< {PAGE_TARGET_MS:g} ms",
            page < PAGE_TARGET_MS,
            baseline=page_first,
            baseline_note="first request",
            note=f"{note}; {human:,} people's clicks shown (scanners left out)",
        ),
        Figure(
            f"flask outreach stats, {size}",
            text,
            "ms",
            f"< {STATS_TARGET_MS:g} ms",
            text < STATS_TARGET_MS,
            baseline=text_first,
            baseline_note="first run",
            note=note,
        ),
        Figure(
            f"flask outreach stats --json, {size}",
            as_json,
            "ms",
            f"< {STATS_TARGET_MS:g} ms",
            as_json < STATS_TARGET_MS,
            baseline=json_first,
            baseline_note="first run",
            note=note,
        ),
        Figure(
            f"GET /api/v1/campaigns/<id>/stats, {size}",
            api,
            "ms",
            f"< {PAGE_TARGET_MS:g} ms",
            api < PAGE_TARGET_MS,
            baseline=api_first,
            baseline_note="first request",
            note=note,
        ),
    ]


def run(
    quick: bool = False, messages: int = 1_000_000, clicks: int = 200_000, runs: int = 5
) -> list[Figure]:
    """PostgreSQL only (the production database); quick: 20,000 messages, 4,000 clicks."""
    if quick:
        messages, clicks, runs = 20_000, 4_000, 2
    return measure("postgresql", messages, clicks, runs)


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    report("Results page", run(args.quick, args.messages, args.clicks, args.runs), args.json)


if __name__ == "__main__":
    main()
