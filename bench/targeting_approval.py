"""Time the approval of a province-sized round: every member's registry category written set-based.

    .venv/bin/python bench/targeting_approval.py                                  # 100,000 households, PostgreSQL
    .venv/bin/python bench/targeting_approval.py --households 20000 --database-url sqlite:////tmp/a.db

Without ``--database-url`` a fresh PostgreSQL database is created on the local server
(``EQUICOVER_BENCH_POSTGRES_URL``, default postgres@127.0.0.1:5432) and dropped at the end.

Steps (untimed): ``--households`` households of 1 to 8 members registered in bulk in one commune,
a quarter of the members holding the poor category open-ended from an earlier decision (which the
approval ends the day before), a round of synthetic answers under the Viet Nam rules imported,
scored and posted. Timed: ``approve_round`` (categories and their change-log rows) and its commit.
For comparison, the same grants one member and category at a time (``set_category`` after
``end_category``, as approval did before) are timed on ``--sample`` households and extrapolated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from equicover.audit.models import ChangeLog
from equicover.auth.service import create_account, get_user
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.registry.models import Location, PersonCategory
from equicover.registry.schemas import LocationIn
from equicover.registry.service import (
    bulk_insert_households,
    bulk_insert_person_categories,
    bulk_insert_persons,
    create_location,
)
from equicover.targeting import service
from equicover.targeting.loader import load_rules
from equicover.targeting.models import TargetingHousehold
from equicover.targeting.rules import NOT_IDENTIFIED, valid_until
from equicover.targeting.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "targeting" / "vn-poverty-2022.toml"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct horse battery"


def _fresh_postgres() -> tuple[str, str]:
    server = make_url(os.environ.get("EQUICOVER_BENCH_POSTGRES_URL", DEFAULT_SERVER))
    name = f"equicover_bench_approval_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False), name


def _drop_postgres(name: str) -> None:
    server = make_url(os.environ.get("EQUICOVER_BENCH_POSTGRES_URL", DEFAULT_SERVER))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1_000, help="Households granted one member at a time.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    created = None
    url = args.database_url
    if url is None:
        url, created = _fresh_postgres()
    try:
        run(url, args.households, args.sample, args.seed)
    finally:
        if created is not None:
            _drop_postgres(created)


def run(url: str, households: int, sample: int, seed: int) -> None:
    rules = load_rules(RULES)
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    synthetic = generate(rules, households, seed=seed, areas=1)
    random = np.random.default_rng(seed)
    started = time.perf_counter()
    with session_scope(factory) as session:
        for code, level, parent in (("BX", "country", None), ("BP", "province", "BX"), ("BD", "district", "BP")):
            create_location(session=session, location=LocationIn(code=code, name=code, level=level, parent_code=parent))
        create_location(session=session, location=LocationIn(code="BC", name="BC", level="commune", parent_code="BD"))
        commune = session.scalar(select(Location.id).where(Location.code == "BC"))
        district = session.scalar(select(Location.id).where(Location.code == "BD"))
        codes = synthetic.table.column("household").to_pylist()
        household_ids = np.arange(1, households + 1)
        bulk_insert_households(
            session=session,
            rows={
                "id": household_ids,
                "code": codes,
                "location_id": [commune] * households,
                "registered_on": [dt.date(2020, 1, 1)] * households,
            },
        )
        members = random.integers(1, 9, households)
        person_household = np.repeat(household_ids, members)
        persons = len(person_household)
        person_ids = np.arange(1, persons + 1)
        bulk_insert_persons(
            session=session,
            rows={
                "id": person_ids,
                "household_id": person_household,
                "full_name": [f"P{i}" for i in range(persons)],
                "sex": ["unknown"] * persons,
                "birth_date": [dt.date(1980, 1, 1)] * persons,
                "location_id": [commune] * persons,
            },
        )
        held = person_ids[random.random(persons) < 0.25]
        bulk_insert_person_categories(
            session=session,
            rows={
                "person_id": held,
                "category": ["registered_poor"] * len(held),
                "valid_from": [dt.date(2022, 1, 1)] * len(held),
                "source": ["an earlier decision"] * len(held),
            },
        )
        create_account(session=session, username="field", password=PASSWORD, role="registrar", location_id=district)
        create_account(session=session, username="chair", password=PASSWORD, role="registrar", location_id=commune)
    with tempfile.TemporaryDirectory() as folder:
        answers = Path(folder) / "answers.csv"
        pa_csv.write_csv(synthetic.table.drop_columns(["true_consumption", "true_line", "area"]), answers)
        with session_scope(factory) as session:
            field = get_user(session=session, username="field")
            round_id = service.open_round(
                session=session,
                rules_text=RULES.read_text(encoding="utf-8"),
                area_code="BC",
                starts_on=rules.effective_from,
                ends_on=rules.effective_from + dt.timedelta(days=30),
                user=field,
            ).id
            service.import_answers(session=session, round_id=round_id, path=answers, user=field)
            counts = service.score_round(session=session, round_id=round_id, user=field)
            notice_on = rules.effective_from + dt.timedelta(days=31)
            service.publish_notice(session=session, round_id=round_id, on=notice_on, user=field)
    prepared = time.perf_counter() - started
    approve_on = notice_on + dt.timedelta(days=rules.procedure.notice_days)
    backend = make_url(url).get_backend_name()
    print(
        f"{backend}: {households:,} households, {persons:,} members, {len(held):,} holding a category already "
        f"(prepared in {prepared:.1f} s); proposed {dict(sorted(counts.items()))}"
    )

    # The one-member-at-a-time path on a sample, rolled back.
    with factory() as session:
        user = get_user(session=session, username="chair")
        sample_entries = list(
            session.scalars(
                select(TargetingHousehold)
                .where(TargetingHousehold.round_id == round_id, TargetingHousehold.final != NOT_IDENTIFIED)
                .order_by(TargetingHousehold.id)
                .limit(sample)
            )
        )
        grants = 0
        started = time.perf_counter()
        for entry in sample_entries:
            final = entry.final or NOT_IDENTIFIED
            for person_id in service._members(session, entry.household_id, approve_on):
                for category in rules.grants_of(final):
                    service._grant(
                        session,
                        person_id=person_id,
                        category=category,
                        valid_from=approve_on,
                        valid_to=valid_until(rules, final, approve_on),
                        source="sample",
                        actor=user.username,
                    )
                    grants += 1
        session.flush()
        one_by_one = time.perf_counter() - started
        session.rollback()

    started = time.perf_counter()
    with session_scope(factory) as session:
        user = get_user(session=session, username="chair")
        result = service.approve_round(session=session, round_id=round_id, on=approve_on, user=user)
    approved = time.perf_counter() - started
    with factory() as session:
        holdings = session.scalar(select(func.count()).select_from(PersonCategory))
        logged = session.scalar(
            select(func.count()).select_from(ChangeLog).where(ChangeLog.entity == "person_categories")
        )
    rate = result.categories_written / approved if approved else 0.0
    print(
        f"  set-based approval: {result.households:,} households, {result.categories_written:,} categories written "
        f"in {approved:.2f} s ({rate:,.0f}/s); {holdings:,} holdings, {logged:,} change-log rows on person_categories"
    )
    if grants:
        per_grant = one_by_one / grants
        print(
            f"  one member at a time: {grants:,} grants of {len(sample_entries):,} households in {one_by_one:.2f} s "
            f"({per_grant * 1000:.2f} ms each): {per_grant * result.categories_written:,.0f} s for the round"
        )
    engine.dispose()


if __name__ == "__main__":
    main()
