"""Ten million subscribers on one PostgreSQL: fan-out, results page, stats, search.

Seeds N subscribers (default 10,000,000) in one audience by COPY, streamed in chunks (not
timed; zero-padded addresses so every unique index is appended to), then times: the
fan-out of one email step to all of them (the new path; the previous per-zone path first
on the same subscribers as the baseline, unless ``--no-baseline``), the re-run tick, the
campaign's results page and ``flask outreach stats`` (the outbox vacuumed first, as
autovacuum would), and the subscriber list page (newest first, a search matching many, a
search matching one address), then one worker sending the step to the fake SendGrid (its RSS
sampled, STOP texts timed before and during the send) and the results page and `stats`
again. Reports the database's size. Not part of ``make bench``
unless ``BENCH_TENMILLION=1`` (``BENCH_TENMILLION_N`` sets N there).

    python -m bench.tenmillion [N] [--quick] [--runs N] [--no-baseline] [--no-send]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench import fanout, results_page, tenmillion_send
from bench.common import (
    US_ZONES,
    Figure,
    checkpoint,
    cli,
    database,
    make_app,
    percentile,
    report,
)
from bench.common import make_audience as new_audience

CHUNK = 200_000
SEARCH_TARGET_MS = 300.0
PAGE_TARGET_MS = 1000.0


def _zone_cuts(count: int) -> list[tuple[int, str]]:
    """(first index past the zone, zone) for US_ZONES' shares of ``count``."""
    cuts, edge = [], 0.0
    for name, share in US_ZONES:
        edge += share
        cuts.append((round(edge * count), name))
    return cuts


def copy_subscribers(count: int, audience_id: int) -> None:
    """COPY ``count`` confirmed email subscribers (ids 1..count) into the audience, in
    chunks of CHUNK rows (memory stays flat at any N)."""
    from outreach.extensions import db

    confirmed = (datetime.now(UTC) - timedelta(days=7)).replace(tzinfo=None).isoformat(sep=" ")
    cuts = _zone_cuts(count)
    raw = db.session.connection().connection.dbapi_connection
    people_cols = (
        "id, public_id, email, first_name, timezone, phone_invalid, phone_unreachable, created_at"
    )
    subs_cols = "subscriber_id, audience_id, channel, state, requested_at, confirmed_at, updated_at"
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY subscribers ({people_cols}) FROM STDIN") as copy:
            zone_at = 0
            for begin in range(1, count + 1, CHUNK):
                lines = []
                for i in range(begin, min(begin + CHUNK, count + 1)):
                    while i > cuts[zone_at][0]:
                        zone_at += 1
                    lines.append(
                        f"{i}\t{i:032x}\treader{i:09d}@example.org\tReader{i % 997}\t"
                        f"{cuts[zone_at][1]}\tf\tf\t{confirmed}\n"
                    )
                copy.write("".join(lines))
        tail = f"\t{audience_id}\temail\tactive\t{confirmed}\t{confirmed}\t{confirmed}\n"
        with cursor.copy(f"COPY subscriptions ({subs_cols}) FROM STDIN") as copy:
            for begin in range(1, count + 1, CHUNK):
                end = min(begin + CHUNK, count + 1)
                copy.write("".join(f"{i}{tail}" for i in range(begin, end)))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
            "(SELECT max(id) FROM subscribers))"
        )
    db.session.commit()
    _vacuum("subscribers", "subscriptions")


def _vacuum(*tables: str) -> None:
    from outreach.extensions import db

    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


def _sizes() -> dict[str, int]:
    """Bytes: the whole database and the three big tables (indexes included)."""
    from outreach.extensions import db

    row = db.session.execute(
        sa.text(
            "SELECT pg_database_size(current_database()),"
            " pg_total_relation_size('outbox_messages'),"
            " pg_total_relation_size('subscribers'),"
            " pg_total_relation_size('subscriptions')"
        )
    ).one()
    db.session.commit()
    return dict(zip(("database", "outbox", "subscribers", "subscriptions"), row, strict=True))


def _fan_out(count: int, baseline: bool) -> tuple[float, float, float | None]:
    """(seconds of the new fan-out, seconds of its re-run, seconds of the per-zone path or
    None). The per-zone path runs first; its rows are removed before the new one."""
    old = None
    if baseline:
        old, _, _ = fanout._timed("postgresql", count, per_zone=True)
    seconds, tick, _ = fanout._timed("postgresql", count, per_zone=False)
    return seconds, tick, old


def time_search(client, runs: int, query: str) -> tuple[float, float, str]:  # noqa: ANN001
    """The subscriber list page with ``?q=query`` (empty: no search): (first ms, median ms,
    its HTML)."""

    def fetch() -> str:
        answer = client.get(f"/admin/subscribers?q={query}", base_url="https://localhost")
        assert answer.status_code == 200, answer.status_code
        return answer.get_data(as_text=True)

    return results_page._timed(fetch, runs)


def measure(count: int, runs: int, baseline: bool, send: bool = True) -> list[Figure]:
    """Seed, fan out, the pages, then (``send``) one worker sends the step while STOPs
    arrive, and the pages again; one PostgreSQL database dropped at the end."""
    with database("postgresql", "outreach_bench_tenmillion") as url:
        app = make_app(url, OUTREACH_REQUIRE_2FA="0")
        stop_s = tenmillion_send.STOP_SECONDS if count >= 1_000_000 else 2.0
        with app.app_context():
            from outreach.extensions import db

            audience_id = new_audience()
            began = time.perf_counter()
            copy_subscribers(count, audience_id)
            seeded = time.perf_counter() - began
            numbers = tenmillion_send.seed_stop_numbers(count, tenmillion_send.stop_count(stop_s))
            print(f"  seeded {count:,} subscribers by COPY in {seeded:.0f}s", flush=True)
            campaign_id, _ = fanout._campaign(audience_id, "Ten million")
            seconds, tick, old = _fan_out(count, baseline)
            before = f"{old:.1f}s" if old is not None else "not run"
            print(f"  fan-out {seconds:.1f}s (per zone {before}), re-run {tick:.3f}s", flush=True)
            began = time.perf_counter()
            _vacuum("outbox_messages")
            checkpoint()
            vacuumed = time.perf_counter() - began
            sizes = _sizes()
            client = results_page.signed_in_client(app)
            db.session.remove()
            page_first, page, html = results_page.time_page(client, campaign_id, runs)
            stats_first, stats, output = results_page.time_stats(app, campaign_id, runs)
            list_first, listing, _ = time_search(client, runs, "")
            many_first, many, _ = time_search(client, runs, "Reader1")
            one = f"reader{count // 2:09d}@example.org"
            one_first, single, found = time_search(client, runs, one)
            assert one in found
            db.session.remove()
            phase = None
            if send:
                phase = tenmillion_send.send(url, numbers, fanout.AT, stop_s)
                print(f"  sent {phase.sent:,} in {phase.seconds:.0f}s", flush=True)
                _vacuum("outbox_messages")
                sent_first, sent_page, _ = results_page.time_page(client, campaign_id, runs)
                stats_sent_first, stats_sent, _ = results_page.time_stats(app, campaign_id, runs)
                db.session.remove()
    mb = {k: f"{v / 1e6:,.0f} MB" for k, v in sizes.items()}
    size_note = (
        f"database {mb['database']} (outbox {mb['outbox']}, subscribers "
        f"{mb['subscribers']}, subscriptions {mb['subscriptions']}, indexes included); "
        f"seeding by COPY {seeded:.0f} s, VACUUM ANALYZE of the outbox {vacuumed:.0f} s (not timed)"
    )
    note = f"median of {runs} after a first request; every row queued (just fanned out)"
    n = f"{count:,} subscribers"

    def page_figure(name: str, ms: float, first: float, target: float, extra: str) -> Figure:
        return Figure(
            f"{name}, {n}", ms, "ms", f"< {target:g} ms", ms < target, first, "first", extra
        )

    figures = [
        Figure(
            f"fan-out of one step, {n}, PostgreSQL",
            seconds,
            "s",
            "report",
            None,
            baseline=old,
            baseline_note="previous path: per zone, same run" if old else "not run",
            note=f"{count / seconds:,.0f} rows/s; re-run tick {tick:.3f} s; {size_note}",
        ),
        page_figure("results page", page, page_first, PAGE_TARGET_MS, note),
        page_figure("flask outreach stats", stats, stats_first, PAGE_TARGET_MS, note),
        page_figure("subscriber list, newest first", listing, list_first, SEARCH_TARGET_MS, ""),
        page_figure(
            "subscriber search, many matches",
            many,
            many_first,
            SEARCH_TARGET_MS,
            "?q=Reader1: ~11% of first names, spread over every id",
        ),
        page_figure(
            "subscriber search, one match",
            single,
            one_first,
            SEARCH_TARGET_MS,
            "a whole address in the middle: found by the unique index (audiences.finding)",
        ),
    ]
    if phase is None:
        return figures
    sent_note = f"median of {runs} after a first request; every row sent"
    return figures + [
        *_send_figures(phase, n),
        page_figure("results page after the send", sent_page, sent_first, PAGE_TARGET_MS,
                    sent_note),
        page_figure("flask outreach stats after the send", stats_sent, stats_sent_first,
                    PAGE_TARGET_MS, sent_note),
    ]  # fmt: skip


def _send_figures(phase: tenmillion_send.SendPhase, n: str) -> list[Figure]:
    """The worker's rate and RSS and the STOP latency during the send."""
    before = percentile(phase.stop_before, 0.99) * 1000
    during = percentile(phase.stop_during, 0.99) * 1000
    rss = sorted(phase.rss_mb) or [phase.peak_rss_mb]
    return [
        Figure(
            f"one worker sends the step, {n}",
            phase.rate,
            "/s",
            "report (bench.emails' rate)",
            None,
            note=(
                f"{phase.sent:,} sent in {phase.seconds:.0f} s; the fake got "
                f"{phase.fake_emails:,}, duplicates {phase.fake_duplicates}"
            ),
        ),
        Figure(
            f"worker RSS during the send, {n}",
            phase.peak_rss_mb,
            "MB",
            "< 200 MB, flat",
            phase.peak_rss_mb < 200 and phase.rss_growth_mb() < 20,
            note=(
                f"median {rss[len(rss) // 2]:.0f} MB over {len(rss)} samples; growth after "
                f"the first tenth {phase.rss_growth_mb():+.0f} MB"
            ),
        ),
        Figure(
            "inbound STOP p99 while the worker sends",
            during,
            "ms",
            "unchanged: < 2x (or +10 ms) before, < 50 ms",
            during < max(2 * before, before + 10) and during < 50 and phase.stop_errors == 0,
            baseline=before,
            baseline_note=f"p99 before the send, same rate ({tenmillion_send.STOP_RATE:g}/s)",
            note=" ".join(
                [
                    f"{len(phase.stop_during):,} STOPs during, errors {phase.stop_errors}",
                    *phase.notes,
                ]
            ),
        ),
    ]


def run(  # noqa: ANN201
    quick: bool = False,
    count: int = 10_000_000,
    runs: int = 3,
    baseline: bool = True,
    send: bool = True,
):
    """quick: 20,000 subscribers, one run."""
    if quick:
        count, runs = 20_000, 1
    return measure(count, runs, baseline, send)


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000_000, help="subscribers")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true", help="skip the per-zone fan-out")
    parser.add_argument("--no-send", action="store_true", help="skip the worker's send")
    args = parser.parse_args()
    figures = run(args.quick, args.count, args.runs, not args.no_baseline, not args.no_send)
    report("Ten million subscribers", figures, args.json)


if __name__ == "__main__":
    main()
