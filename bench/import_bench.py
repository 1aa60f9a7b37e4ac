"""Import benchmark: N persons from a CSV into a fresh PostgreSQL database.

    .venv/bin/python bench/import_bench.py --rows 1000000
    .venv/bin/python bench/import_bench.py --rows 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Writes a synthetic list (Vietnamese, Chinese, Arabic, Persian and French names, 1% bad rows)
with its mapping, creates a scratch database next to the given server URL, imports the file
twice (the second run must import nothing) and prints rows per second. Target (issue 6):
1M rows in <= 60 s into PostgreSQL. The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.registry.importer import ImportMapping, import_persons_file
from equicover.registry.service import bulk_insert_locations
from equicover.synth.names import build_name_pools

MAPPING = {
    "columns": {
        "source_row_id": "row_id", "full_name": "name", "sex": "sex", "birth_date": "dob",
        "household_code": "household", "location_code": "commune", "national_id": "cccd",
    },
    "defaults": {"id_type": "vneid"},
    "values": {"sex": {"M": "male", "F": "female"}},
    "options": {"date_formats": ["%Y-%m-%d"], "national_id_pattern": "^[0-9]{12}$"},
}  # fmt: skip
COMMUNES = 400


def write_list(path: Path, rows: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    pools = build_name_pools(("vi_VN", "zh_CN", "ar_AA", "fa_IR", "fr_FR"), seed, size=800)
    locale = rng.choice(len(pools), size=rows, p=[0.4, 0.3, 0.1, 0.1, 0.1])
    family = np.empty(rows, dtype=object)
    given = np.empty(rows, dtype=object)
    for index, pool in enumerate(pools):
        chosen = np.flatnonzero(locale == index)
        family[chosen] = pool.family[rng.integers(len(pool.family), size=len(chosen))]
        given[chosen] = pool.given_female[rng.integers(len(pool.given_female), size=len(chosen))]
    birth = np.datetime64("1930-01-01") + rng.integers(0, 33_000, size=rows).astype("timedelta64[D]")
    birth_text = np.datetime_as_string(birth, unit="D")
    commune = rng.integers(COMMUNES, size=rows)
    bad = rng.random(rows) < 0.01
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row_id", "name", "sex", "dob", "household", "commune", "cccd"])
        for index in range(rows):
            writer.writerow(
                (
                    f"R{index}",
                    f"{family[index]} {given[index]}",
                    "F",
                    "not a date" if bad[index] else birth_text[index],
                    f"HH{index // 4}",
                    f"C{commune[index]}",
                    f"{100000000000 + index:012d}" if index % 5 else "",
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres", help="server (admin) URL")
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--sequential", action="store_true", help="validate and write one after the other")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="equicover-import-bench-"))
    data = workdir / "list.csv"
    started = time.perf_counter()
    write_list(data, args.rows)
    print(f"wrote {args.rows:,} rows ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")

    admin_url = make_url(args.url)
    name = f"equicover_import_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            locations = [{"id": 1, "code": "VN", "name": "Country", "level": "country", "parent_id": None},
                         {"id": 2, "code": "P", "name": "Province", "level": "province", "parent_id": 1},
                         {"id": 3, "code": "D", "name": "District", "level": "district", "parent_id": 2}]  # fmt: skip
            locations += [{"id": 10 + i, "code": f"C{i}", "name": f"Commune {i}", "level": "commune", "parent_id": 3} for i in range(COMMUNES)]
            bulk_insert_locations(session=session, rows=locations)
        mapping = ImportMapping.from_dict(MAPPING)
        for attempt in ("first", "again"):
            began = time.perf_counter()
            summary = import_persons_file(
                factory=factory, path=data, mapping=mapping, source="bench-list", report_path=workdir / "rejected.csv",
                batch_size=args.batch_size, pipeline=not args.sequential,
            )  # fmt: skip
            seconds = time.perf_counter() - began
            print(
                f"{attempt}: {summary.rows_read:,} rows read, {summary.imported:,} imported, {summary.rejected:,} rejected, "
                f"{summary.already_imported:,} already imported in {seconds:.1f} s ({summary.rows_read / seconds:,.0f} rows/s)"
            )
        with engine.connect() as connection:
            counts = {table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                      for table in ("persons", "households", "person_name_forms", "person_sources")}  # fmt: skip
        print("stored:", counts)
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
