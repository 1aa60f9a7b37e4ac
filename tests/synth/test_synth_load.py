"""Loading a synthetic province into the database, checked from the stored rows."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.enrolment.service import coverage
from equicover.errors import Conflict, ValidationFailed
from equicover.registry.service import categories_at
from equicover.synth.service import GenerationSummary, generate

PEOPLE = 3_000
YEAR = 2018
LOADED_TABLES = (
    "locations",
    "households",
    "persons",
    "categories",
    "person_categories",
    "providers",
    "schemes",
    "enrolment_periods",
    "contracts",
    "enrolments",
    "contributions",
)


def _read_claims(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def loaded(session: Session, tmp_path: Path) -> tuple[Session, GenerationSummary, list[dict[str, str]]]:
    summary = generate(people=PEOPLE, seed=5, year=YEAR, session=session, claims_path=tmp_path / "claims.csv")
    session.flush()
    return session, summary, _read_claims(tmp_path / "claims.csv")


def _scalar(session: Session, sql: str, **parameters: object) -> object:
    return session.execute(text(sql), parameters).scalar_one()


def test_rows_are_stored_for_every_part_of_the_province(loaded):
    session, summary, _ = loaded
    first = summary.first_person_id
    assert _scalar(session, "SELECT COUNT(*) FROM persons WHERE id >= :first", first=first) == PEOPLE
    assert (
        _scalar(
            session,
            "SELECT COUNT(*) FROM enrolments e JOIN persons p ON p.id = e.person_id WHERE p.id >= :first",
            first=first,
        )
        == summary.enrolments
    )
    assert (
        _scalar(session, "SELECT COUNT(DISTINCT household_id) FROM persons WHERE id >= :first", first=first)
        == summary.households
    )
    assert _scalar(session, "SELECT COUNT(*) FROM providers WHERE code LIKE 'S5-%'") == summary.providers
    districts = _scalar(session, "SELECT COUNT(*) FROM locations WHERE level = 'district' AND code LIKE 'S5-%'")
    assert districts == summary.districts
    province_parent = _scalar(
        session,
        "SELECT parent.code FROM locations child JOIN locations parent ON parent.id = child.parent_id "
        "WHERE child.code = 'S5'",
    )
    assert province_parent == "CN"
    misplaced = _scalar(
        session,
        "SELECT COUNT(*) FROM persons p JOIN locations l ON l.id = p.location_id "
        "WHERE p.id >= :first AND l.level <> 'commune'",
        first=first,
    )
    assert misplaced == 0


def test_coverage_from_the_stored_rows_is_near_ninety_percent(loaded):
    session, summary, _ = loaded
    on = dt.date(YEAR, 6, 30)
    parameters = {"on": on, "first": summary.first_person_id}
    alive = _scalar(
        session,
        "SELECT COUNT(*) FROM persons "
        "WHERE id >= :first AND birth_date <= :on AND (death_date IS NULL OR death_date > :on)",
        **parameters,
    )
    enrolled = _scalar(
        session,
        "SELECT COUNT(DISTINCT p.id) FROM persons p JOIN enrolments e ON e.person_id = p.id "
        "WHERE p.id >= :first AND e.starts <= :on AND e.ends >= :on AND (p.death_date IS NULL OR p.death_date > :on)",
        **parameters,
    )
    assert 0.86 <= enrolled / alive <= 0.94
    poor_not_enrolled = _scalar(
        session,
        "SELECT COUNT(*) FROM person_categories c WHERE c.category = 'registered_poor' AND c.person_id >= :first "
        "AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.person_id = c.person_id)",
        first=summary.first_person_id,
    )
    assert poor_not_enrolled == 0
    # The enrolment service's own coverage report counts the same people.
    rows = [row for row in coverage(session=session, on=on, by="district") if row.group_code.startswith("S5-")]
    assert sum(row.eligible for row in rows) == alive
    assert sum(row.enrolled for row in rows) == enrolled


def test_national_ids_are_unique_per_type_and_no_birth_date_is_in_the_future(loaded):
    session, summary, _ = loaded
    duplicates = session.execute(
        text(
            "SELECT id_type, national_id FROM persons WHERE national_id IS NOT NULL "
            "GROUP BY id_type, national_id HAVING COUNT(*) > 1"
        )
    ).all()
    assert duplicates == []
    latest_birth = _scalar(
        session, "SELECT MAX(birth_date) FROM persons WHERE id >= :first", first=summary.first_person_id
    )
    latest_birth = dt.date.fromisoformat(latest_birth) if isinstance(latest_birth, str) else latest_birth
    assert latest_birth < dt.date(YEAR, 1, 1) <= dt.date.today()


def test_contributions_are_stored_in_fen_by_payer(loaded):
    session, summary, _ = loaded
    totals = session.execute(
        text(
            "SELECT e.id, SUM(c.amount_minor) FROM contributions c JOIN enrolments e ON e.id = c.enrolment_id "
            "WHERE e.person_id >= :first GROUP BY e.id"
        ),
        {"first": summary.first_person_id},
    ).all()
    assert len(totals) == summary.enrolments
    # 220 CNY of contribution and the 490 CNY government subsidy per enrollee
    assert {int(total) for _, total in totals} == {71_000}
    payers = set(session.execute(text("SELECT DISTINCT payer_kind FROM contributions")).scalars())
    assert payers == {"state_budget", "local_budget", "member"}


def test_claims_join_back_to_persons_providers_and_registry_categories(loaded):
    session, _, claims = loaded
    providers = {
        code: (level, bool(designated))
        for code, level, designated in session.execute(text("SELECT code, level, designated FROM providers"))
    }
    enrolment_spans: dict[int, list[tuple[dt.date, dt.date]]] = {}

    def as_date(value: object) -> dt.date:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    for person_id, starts, ends in session.execute(text("SELECT person_id, starts, ends FROM enrolments")):
        enrolment_spans.setdefault(person_id, []).append((as_date(starts), as_date(ends)))
    for claim in claims:
        day = dt.date.fromisoformat(claim["service_date"])
        assert any(starts <= day <= ends for starts, ends in enrolment_spans[int(claim["member_id"])])
        assert providers[claim["provider_id"]] == (claim["provider_level"], claim["designated"] == "true")
    for claim in claims[::40]:
        stored = categories_at(
            session=session, person_id=int(claim["member_id"]), on=dt.date.fromisoformat(claim["service_date"])
        )
        assert ";".join(sorted(stored)) == ";".join(sorted(filter(None, claim["categories"].split(";"))))


def test_loading_the_same_seed_twice_is_refused(loaded):
    session, _, _ = loaded
    with pytest.raises(Conflict):
        generate(people=100, seed=5, year=YEAR, session=session)


def _dump(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            dump = {
                name: [tuple(row) for row in connection.execute(text(f'SELECT * FROM "{name}" ORDER BY 1, 2'))]
                for name in LOADED_TABLES
            }
            dump["change_log"] = [
                tuple(row)
                for row in connection.execute(text("SELECT entity, action, after FROM change_log ORDER BY id"))
            ]
            return dump
    finally:
        engine.dispose()


def _load_fresh(directory: Path, seed: int) -> tuple[str, bytes]:
    directory.mkdir()
    url = f"sqlite:///{directory / 'equicover.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            generate(people=PEOPLE, seed=seed, year=YEAR, session=session, claims_path=directory / "claims.csv")
    finally:
        engine.dispose()
    return url, (directory / "claims.csv").read_bytes()


def test_same_seed_gives_identical_database_content(tmp_path: Path):
    first_url, first_claims = _load_fresh(tmp_path / "first", seed=9)
    second_url, second_claims = _load_fresh(tmp_path / "second", seed=9)
    first, second = _dump(first_url), _dump(second_url)
    assert first["persons"] and first["contributions"]
    assert first == second
    assert first_claims == second_claims
    third_url, _ = _load_fresh(tmp_path / "third", seed=10)
    assert _dump(third_url)["persons"] != first["persons"]


def test_a_failed_load_rolls_back_and_leaves_no_claims_file(session: Session, tmp_path: Path):
    from equicover.registry.schemas import LocationIn
    from equicover.registry.service import create_location

    # A district code the generator will use is taken: the load breaks a unique constraint.
    create_location(session=session, location=LocationIn(code="S6-D01", name="Taken", level="country"))
    claims_path = tmp_path / "claims.csv"
    with pytest.raises(ValidationFailed):
        generate(people=500, seed=6, year=YEAR, session=session, claims_path=claims_path)
    assert not claims_path.exists()
    assert list(tmp_path.iterdir()) == []
