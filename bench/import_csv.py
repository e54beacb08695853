"""Benchmark: ``flask outreach import`` of a generated CSV (default 100,000 rows).

    .venv/bin/python -m bench.import_csv                      # SQLite in a temp folder
    .venv/bin/python -m bench.import_csv --rows 20000 --pg    # PostgreSQL (BENCH_PG_URL)

Each row has an email and a mobile number, and the import names a consent source and date
on an audience that allows single opt-in for imports, so every row becomes two active
subscriptions with four ledger rows: the heaviest path. Prints one JSON line: rows,
seconds, rows per second and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Mobile", "First name"])
        for i in range(rows):
            writer.writerow([f"Person{i}@Example.org", f"(917) {2000000 + i:07d}", f"P{i}"])


def _database(folder: Path, pg: bool) -> str:
    if not pg:
        return f"sqlite:///{folder / 'bench.db'}"
    admin = sa.create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "bench_import" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "bench_import"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/bench_import"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", action="store_true", help="use PostgreSQL (BENCH_PG_URL)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    from flask_migrate import upgrade

    from outreach import create_app
    from outreach.extensions import db
    from outreach.models import Audience

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            "OUTREACH_ENV": "testing",
            "DATABASE_URL": _database(folder, args.pg),
            "OUTREACH_INSTANCE_DIR": str(folder / "instance"),
        }
        app = create_app(env=env)
        source = folder / "list.csv"
        _write_csv(source, args.rows)
        with app.app_context():
            upgrade()
            db.session.add(
                Audience(
                    slug="bench",
                    name="Bench",
                    single_opt_in_for_imports=True,
                    organisation_name="Bench clinic",
                    postal_address="1 Bench Road",
                    sms_frequency_text="Up to 4 msgs/month",
                    support_email="care@bench.example",
                )
            )
            db.session.commit()
            started = time.monotonic()
            result = app.test_cli_runner().invoke(
                args=[
                    "outreach",
                    "import",
                    str(source),
                    "--audience",
                    "bench",
                    "--consent-source",
                    "Bench intake form",
                    "--consent-date",
                    "2026-01-05",
                    "--quiet",
                ]
            )
            seconds = time.monotonic() - started
            db.session.remove()
            db.engine.dispose()
        if result.exit_code != 0:
            print(result.output, file=sys.stderr)
            return 1
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            json.dumps(
                {
                    "benchmark": "import_csv",
                    "database": "postgresql" if args.pg else "sqlite",
                    "rows": args.rows,
                    "seconds": round(seconds, 2),
                    "rows_per_second": round(args.rows / seconds),
                    "peak_rss_mb": round(peak_kb / 1024),
                    "summary": result.output.strip().splitlines()[-1],
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
