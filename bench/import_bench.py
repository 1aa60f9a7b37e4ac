"""Import benchmark: N persons from a CSV into a fresh PostgreSQL database.

    .venv/bin/python bench/import_bench.py --rows 1000000
    .venv/bin/python bench/import_bench.py --rows 1000000 --url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Writes a synthetic list (Vietnamese, Chinese, Arabic, Persian and French names, 1% bad rows)
with its mapping, creates a scratch database next to the given server URL, imports the file
twice (the second run must import nothing) and prints rows per second and how often the name
forms were found in their caches. Target: 1M rows in <= 60 s into PostgreSQL. The
scratch database and the list are removed at the end.

Faker's name pools hold only about 1,400 distinct name tokens over the five locales, far fewer
than a country's register; ``--distinct-tokens 20000`` draws the names from that many synthetic
tokens instead (two real tokens of a locale joined), to measure the import when the caches of
name forms miss more.
"""

from __future__ import annotations

import argparse
import csv
import resource
import shutil
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
from equicover.registry import importer
from equicover.registry.import_names import ImportNameForms
from equicover.registry.importer import ImportMapping, import_persons_file
from equicover.registry.service import bulk_insert_locations
from equicover.synth.names import NamePool, build_name_pools

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


def _synthetic_token_pools(
    pools: tuple[NamePool, ...], distinct_tokens: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per locale, family and given names of one token each, from ``distinct_tokens / 5``
    distinct tokens made by joining two of the locale's real tokens (three where the locale has
    too few: Faker's Vietnamese names use 34)."""
    made_pools = []
    wanted = distinct_tokens // len(pools)
    for pool in pools:
        base = sorted({token for name in (*pool.family, *pool.given_female) for token in name.split()})
        parts = 2 if len(base) ** 2 >= 4 * wanted else 3
        made: set[str] = set()
        while len(made) < wanted:
            first, *others = (base[index] for index in rng.integers(len(base), size=parts))
            made.add(first + "".join(other.lower() for other in others))
        tokens = np.array(sorted(made), dtype=object)
        rng.shuffle(tokens)
        made_pools.append((tokens[: len(tokens) // 2], tokens[len(tokens) // 2 :]))
    return made_pools


def write_list(path: Path, rows: int, seed: int = 3, distinct_tokens: int | None = None) -> None:
    rng = np.random.default_rng(seed)
    pools = build_name_pools(("vi_VN", "zh_CN", "ar_AA", "fa_IR", "fr_FR"), seed, size=800)
    names = (
        [(pool.family, pool.given_female) for pool in pools]
        if distinct_tokens is None
        else _synthetic_token_pools(pools, distinct_tokens, rng)
    )
    locale = rng.choice(len(pools), size=rows, p=[0.4, 0.3, 0.1, 0.1, 0.1])
    family = np.empty(rows, dtype=object)
    given = np.empty(rows, dtype=object)
    for index, (family_names, given_names) in enumerate(names):
        chosen = np.flatnonzero(locale == index)
        family[chosen] = family_names[rng.integers(len(family_names), size=len(chosen))]
        given[chosen] = given_names[rng.integers(len(given_names), size=len(chosen))]
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
    parser.add_argument(
        "--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres", help="server (admin) URL"
    )
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--sequential", action="store_true", help="validate and write one after the other")
    parser.add_argument("--writers", type=int, default=2, help="batches written at once (pipelined)")
    parser.add_argument(
        "--distinct-tokens", type=int, default=None, help="draw names from this many synthetic name tokens"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="equicover-import-bench-"))
    data = workdir / "list.csv"
    started = time.perf_counter()
    write_list(data, args.rows, distinct_tokens=args.distinct_tokens)
    print(f"wrote {args.rows:,} rows ({data.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s")
    with data.open(newline="", encoding="utf-8") as handle:
        names = [row[1] for row in csv.reader(handle)][1:]
    print(
        f"  {len(set(names)):,} distinct names, "
        f"{len({token for name in names for token in name.split()}):,} distinct name tokens"
    )
    del names

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
            locations += [
                {"id": 10 + i, "code": f"C{i}", "name": f"Commune {i}", "level": "commune", "parent_id": 3}
                for i in range(COMMUNES)
            ]
            bulk_insert_locations(session=session, rows=locations)
        mapping = ImportMapping.from_dict(MAPPING)
        memos: list[ImportNameForms] = []  # the import's memo of name forms, kept to read its hit rates

        def remembered_memo() -> ImportNameForms:
            memos.append(ImportNameForms())
            return memos[-1]

        importer.ImportNameForms = remembered_memo
        for attempt in ("first", "again"):
            began = time.perf_counter()
            summary = import_persons_file(
                factory=factory, path=data, mapping=mapping, source="bench-list", report_path=workdir / "rejected.csv",
                batch_size=args.batch_size, pipeline=not args.sequential, writers=args.writers,
            )  # fmt: skip
            seconds = time.perf_counter() - began
            print(
                f"{attempt}: {summary.rows_read:,} rows read, {summary.imported:,} imported, "
                f"{summary.rejected:,} rejected, {summary.already_imported:,} already imported "
                f"in {seconds:.1f} s ({summary.rows_read / seconds:,.0f} rows/s)"
            )
            if attempt == "first" and memos:
                memo = memos[0]
                print(f"  name forms memo: names {1 - memo.names_missed / max(1, memo.names_looked_up):.1%} hits "
                      f"({memo.names_missed:,} misses), "
                      f"then tokens {1 - memo.tokens_missed / max(1, memo.tokens_looked_up):.1%} "
                      f"hits ({memo.tokens_missed:,} misses)")  # fmt: skip
        with engine.connect() as connection:
            counts = {table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                      for table in ("persons", "households", "person_name_forms", "person_sources")}  # fmt: skip
        print("stored:", counts)
        print(
            f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (writing the list included)"
        )
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
