"""Restore drill: back up an equicover database, restore it into a new one, prove every row came back.

A backup that was never restored is a hope, not a backup. This drill does what a recovery does:

1. backs the database up the way production does (PostgreSQL: ``pg_dump --format=custom``; SQLite:
   the online backup API, safe while the service writes);
2. restores it into a new database (PostgreSQL: a new database on the same server with
   ``pg_restore``; SQLite: a new file);
3. compares every table of the two, row count and a checksum of every row's content, and names each
   table that differs. The money tables (claims, claim payments, accumulators and their movements,
   ledger entries, payment batches) are listed first.

Exit 0 when every table came back whole, 1 when any differs, 2 when the drill could not run.

    .venv/bin/python scripts/restore_drill.py --source postgresql+psycopg://postgres@127.0.0.1:5432/equicover
    .venv/bin/python scripts/restore_drill.py --source sqlite:///equicover.db
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine, make_url

MONEY_TABLES = (
    "claims",
    "claim_payments",
    "accumulators",
    "claim_accumulator_deltas",
    "ledger_entries",
    "ledger_lines",
    "payment_batches",
    "payment_batch_claims",
    "payment_batch_lines",
    "recoveries",
)


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    rows: int
    restored_rows: int
    checksum: str
    restored_checksum: str

    @property
    def whole(self) -> bool:
        return self.rows == self.restored_rows and self.checksum == self.restored_checksum


@dataclass(frozen=True, slots=True)
class DrillResult:
    backup_bytes: int
    backup_seconds: float
    restore_seconds: float
    checks: list[TableCheck]

    @property
    def whole(self) -> bool:
        return all(check.whole for check in self.checks)


def _engine(url: URL) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url)


def _tables(engine: Engine) -> list[str]:
    names = inspect(engine).get_table_names()
    money = [name for name in MONEY_TABLES if name in names]
    return money + sorted(name for name in names if name not in MONEY_TABLES)


def _checksum_postgresql(engine: Engine, table: str) -> tuple[int, str]:
    # An order-free digest: the sum of each row text's first 60 bits of MD5 (numeric, so it cannot overflow).
    with engine.connect() as connection:
        count, digest = connection.execute(
            text(
                f"SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0) "
                f'FROM "{table}" AS t'
            )
        ).one()
    return int(count), str(digest)


def _checksum_sqlite(path: str, table: str) -> tuple[int, str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digest = 0
        count = 0
        for row in connection.execute(f'SELECT * FROM "{table}"'):
            digest += int.from_bytes(hashlib.md5(repr(row).encode(), usedforsecurity=False).digest()[:8], "big")
            count += 1
        return count, str(digest)
    finally:
        connection.close()


def _pg_connection_options(url: URL) -> tuple[list[str], dict[str, str]]:
    options = [
        "--host",
        url.host or "127.0.0.1",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
    ]
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    return options, environment


def drill_postgresql(source: URL, target_name: str, *, folder: Path, keep: bool = False) -> DrillResult:
    options, environment = _pg_connection_options(source)
    dump = folder / f"{source.database}.dump"
    started = time.perf_counter()
    subprocess.run(
        ["pg_dump", *options, "--format=custom", "--file", str(dump), source.database or "postgres"],
        check=True,
        env=environment,
    )
    backed_up = time.perf_counter()
    admin = _engine(source.set(database="postgres")).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{target_name}"'))
    target = source.set(database=target_name)
    try:
        subprocess.run(
            ["pg_restore", *options, "--no-owner", "--exit-on-error", "--dbname", target_name, str(dump)],
            check=True,
            env=environment,
        )
        restored = time.perf_counter()
        source_engine, target_engine = _engine(source), _engine(target)
        try:
            checks = []
            for table in _tables(source_engine):
                rows, checksum = _checksum_postgresql(source_engine, table)
                restored_rows, restored_checksum = _checksum_postgresql(target_engine, table)
                checks.append(TableCheck(table, rows, restored_rows, checksum, restored_checksum))
        finally:
            source_engine.dispose()
            target_engine.dispose()
    finally:
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{target_name}" WITH (FORCE)'))
        admin.dispose()
    return DrillResult(dump.stat().st_size, backed_up - started, restored - backed_up, checks)


def drill_sqlite(source: URL, target_path: Path) -> DrillResult:
    path = source.database
    if not path or not Path(path).exists():
        raise FileNotFoundError(f"no SQLite database at {path}")
    started = time.perf_counter()
    backup = target_path.with_suffix(".backup")
    with sqlite3.connect(path) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    backed_up = time.perf_counter()
    # Restoring a SQLite backup is putting the file in place: a second copy, as a recovery would.
    with sqlite3.connect(backup) as saved, sqlite3.connect(target_path) as restored_db:
        saved.backup(restored_db)
    restored = time.perf_counter()
    source_engine = _engine(source)
    try:
        tables = _tables(source_engine)
    finally:
        source_engine.dispose()
    checks = []
    for table in tables:
        rows, checksum = _checksum_sqlite(path, table)
        restored_rows, restored_checksum = _checksum_sqlite(str(target_path), table)
        checks.append(TableCheck(table, rows, restored_rows, checksum, restored_checksum))
    return DrillResult(backup.stat().st_size, backed_up - started, restored - backed_up, checks)


def run_drill(source_url: str, *, keep: bool = False, folder: Path | None = None) -> DrillResult:
    source = make_url(source_url)
    with tempfile.TemporaryDirectory(prefix="equicover-drill-") as scratch:
        work = folder or Path(scratch)
        if source.get_backend_name() == "sqlite":
            return drill_sqlite(source, work / "restored.db")
        if source.get_backend_name() == "postgresql":
            return drill_postgresql(source, f"{source.database}_restore_drill", folder=work, keep=keep)
        raise ValueError(f"no restore drill for {source.get_backend_name()} databases")


def report(result: DrillResult) -> str:
    lines = [
        f"backup: {result.backup_bytes / 1_048_576:,.1f} MiB in {result.backup_seconds:.1f} s; "
        f"restore: {result.restore_seconds:.1f} s",
        f"{'table':<32} {'rows':>12} {'restored':>12}  content",
    ]
    for check in result.checks:
        verdict = "same" if check.whole else "DIFFERENT"
        lines.append(f"{check.table:<32} {check.rows:>12,} {check.restored_rows:>12,}  {verdict}")
    differing = [check.table for check in result.checks if not check.whole]
    total = sum(check.rows for check in result.checks)
    lines.append(
        f"every table came back whole: {len(result.checks)} tables, {total:,} rows"
        if not differing
        else f"NOT RESTORED WHOLE: {', '.join(differing)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        default=os.environ.get("EQUICOVER_DATABASE_URL", "sqlite:///equicover.db"),
        help="The database to back up (default: EQUICOVER_DATABASE_URL or ./equicover.db).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the restored PostgreSQL database for inspection.")
    arguments = parser.parse_args(argv)
    try:
        result = run_drill(arguments.source, keep=arguments.keep)
    except (OSError, ValueError, subprocess.CalledProcessError) as error:
        print(f"the drill could not run: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    print(report(result))
    return 0 if result.whole else 1


if __name__ == "__main__":
    sys.exit(main())
