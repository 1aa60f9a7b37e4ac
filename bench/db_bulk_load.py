"""Bulk-load N synthetic persons (with households, categories, enrolments, contributions) and
time the load and the coverage queries. Prints figures; asserts nothing.

    .venv/bin/python bench/db_bulk_load.py --persons 1000000 [--url postgresql+psycopg://...]

Without --url a fresh SQLite file under a temporary directory is used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.enrolment.schemas import SchemeIn
from equicover.enrolment.service import (
    bulk_insert_contributions,
    bulk_insert_enrolments,
    coverage,
    create_scheme,
    open_period,
)
from equicover.registry.service import (
    bulk_insert_households,
    bulk_insert_locations,
    bulk_insert_person_categories,
    bulk_insert_persons,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--url", default=None)
    arguments = parser.parse_args()
    url = arguments.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(7)
    n = arguments.persons

    locations = [
        {"id": 1, "code": "C", "name": "Country", "level": "country", "parent_id": None},
        {"id": 2, "code": "P", "name": "Province", "level": "province", "parent_id": 1},
    ]
    districts = list(range(10, 30))
    communes: list[int] = []
    for district in districts:
        locations.append(
            {
                "id": district,
                "code": f"D{district}",
                "name": f"District {district}",
                "level": "district",
                "parent_id": 2,
            }
        )
        for index in range(10):
            commune = district * 100 + index
            communes.append(commune)
            locations.append(
                {
                    "id": commune,
                    "code": f"C{commune}",
                    "name": f"Commune {commune}",
                    "level": "commune",
                    "parent_id": district,
                }
            )

    households = n // 4
    household_location = [rng.choice(communes) for _ in range(households)]
    persons = {
        "id": list(range(1, n + 1)),
        "household_id": [(i // 4) + 1 for i in range(n)],
        "full_name": [f"Person {i}" for i in range(1, n + 1)],
        "sex": [rng.choice(("female", "male")) for _ in range(n)],
        "birth_date": [dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30_000)) for _ in range(n)],
        "national_id": [f"{i:012d}" for i in range(1, n + 1)],
        "id_type": ["cccd"] * n,
        "location_id": [household_location[i // 4] for i in range(n)],
    }
    persons["registered_on"] = [max(birth, dt.date(2015, 1, 1)) for birth in persons["birth_date"]]
    for index, birth in enumerate(persons["registered_on"]):
        if birth > dt.date(2024, 6, 30):
            persons["registered_on"][index] = persons["birth_date"][index]

    started = time.perf_counter()
    with session_scope(factory) as session:
        bulk_insert_locations(session=session, rows=locations)
        bulk_insert_households(
            session=session,
            rows={
                "id": list(range(1, households + 1)),
                "code": [f"H{i}" for i in range(1, households + 1)],
                "location_id": household_location,
                "registered_on": [dt.date(2015, 1, 1)] * households,
            },
        )
        t0, c0 = time.perf_counter(), time.process_time()
        bulk_insert_persons(session=session, rows=persons)
        persons_seconds, persons_cpu = time.perf_counter() - t0, time.process_time() - c0
        poor = [i for i in range(1, n + 1) if rng.random() < 0.2]
        bulk_insert_person_categories(
            session=session,
            rows={
                "person_id": poor,
                "category": ["registered_poor"] * len(poor),
                "valid_from": [dt.date(2020, 1, 1)] * len(poor),
            },
        )
        scheme = create_scheme(session=session, scheme=SchemeIn(code="HEF", name="HEF", currency="VND"))
        period = open_period(
            session=session, scheme_id=scheme.id, starts=dt.date(2024, 1, 1), ends=dt.date(2024, 12, 31)
        )
        enrolled = [i for i in range(1, n + 1) if rng.random() < 0.85]
        bulk_insert_enrolments(
            session=session,
            rows={
                "id": list(range(1, len(enrolled) + 1)),
                "person_id": enrolled,
                "scheme_id": [scheme.id] * len(enrolled),
                "period_id": [period.id] * len(enrolled),
                "starts": [dt.date(2024, 1, 1)] * len(enrolled),
                "ends": [dt.date(2024, 12, 31)] * len(enrolled),
            },
        )
        bulk_insert_contributions(
            session=session,
            rows={
                "enrolment_id": list(range(1, len(enrolled) + 1)),
                "payer_kind": ["state_budget"] * len(enrolled),
                "amount_minor": [315_000] * len(enrolled),
                "status": ["paid"] * len(enrolled),
                "period_starts": [dt.date(2024, 1, 1)] * len(enrolled),
                "period_ends": [dt.date(2024, 12, 31)] * len(enrolled),
            },
        )
    load_seconds = time.perf_counter() - started
    print(f"backend: {engine.dialect.name}; persons: {n:,}; enrolments: {len(enrolled):,}; categories: {len(poor):,}")
    print(
        f"bulk_insert_persons: {persons_seconds:.1f} s wall, {persons_cpu:.1f} s CPU "
        f"({n / persons_seconds:,.0f} rows/s)"
    )
    print(
        "whole load (locations, households, persons, categories, enrolments, contributions, commit): "
        f"{load_seconds:.1f} s"
    )
    for by in ("district", "province", "category"):
        with session_scope(factory) as session:
            t0, c0 = time.perf_counter(), time.process_time()
            rows = coverage(session=session, on=dt.date(2024, 6, 30), by=by)
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        eligible, enrolled = sum(r.eligible for r in rows), sum(r.enrolled for r in rows)
        print(
            f"coverage by {by}: {seconds:.2f} s wall, {cpu:.2f} s CPU, {len(rows)} groups, "
            f"eligible {eligible:,}, enrolled {enrolled:,}"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
