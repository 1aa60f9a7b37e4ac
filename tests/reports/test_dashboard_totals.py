"""The dashboard's running totals equal the figures computed from the claims themselves, whatever
was stored since: real-time claims, reversals (of a claim counted or not yet counted), a bulk load,
and a claim that became visible after a higher id was counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from equicover.claims.bulk import load_settled_claims
from equicover.claims.models import Claim
from equicover.claims.service import reverse_claim
from equicover.enrolment import service as enrolment_service
from equicover.reports import dashboard_coverage, dashboard_totals
from equicover.reports.models import DashboardFold, DashboardFoldHole
from equicover.settlement.loader import load_policy
from tests.factories import claim, vn_claims_world

POLICY = Path(__file__).resolve().parents[2] / "policies" / "cn-yaan-2018.toml"


def _assert_current(session: Session, year: int) -> dashboard_totals.YearTotals:
    folded = dashboard_totals.year_totals(session=session, year=year)
    scanned = dashboard_totals.scanned_totals(session=session, year=year)
    assert folded.canonical() == scanned.canonical()
    # What the dashboard shows: the same payments summed by payer item and month, and by provider.
    paid = dashboard_totals.paid_sums(session=session, year=year)
    by_item_month: dict[tuple[str, str, int], list] = {}
    by_provider: dict[int, int] = {}
    for provider_id, kind, item_id, payer, month, amount in scanned.payments:
        entry = by_item_month.setdefault((kind, item_id, month), [payer, 0])
        entry[0], entry[1] = min(entry[0], payer), entry[1] + amount
        by_provider[provider_id] = by_provider.get(provider_id, 0) + amount
    assert sorted(paid.by_item_month) == sorted((k, i, p, m, a) for (k, i, m), (p, a) in by_item_month.items())
    assert paid.by_provider == by_provider
    assert dashboard_totals.read_totals(session=session, year=year, payments=False).payments == []
    settled = session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.status == "settled", func.extract("year", Claim.service_date) == year)
    )
    assert folded.claims == settled
    return folded


def test_totals_follow_claims_reversals_and_a_bulk_load(session: Session, tmp_path: Path) -> None:
    world = vn_claims_world(session)
    before = _assert_current(session, 2024)
    assert before.claims == 9
    # The registered-poor member's in-county stay at PA (district D1) is in the out-of-pocket figure.
    assert [(name, count) for name, _oop, _allowed, count in before.oop] == [("Place D1", 1)]
    assert sum(before.visits.values()) == 6 and before.payments

    reverse_claim(session=session, claim_id="A-IP0", reason="billed twice", provider_id=world.provider_a)
    after = _assert_current(session, 2024)
    assert after.claims == 8 and after.oop == []
    paid = lambda totals: sum(row[-1] for row in totals.payments)  # noqa: E731
    assert paid(before) - paid(after) == 6_000_000

    # A claim stored and reversed between two folds: counted and taken out in the same fold.
    claim(session, claim_id="A-OP9", person_id=world.person_ids[0], service_date=dt.date(2024, 10, 1))
    reverse_claim(session=session, claim_id="A-OP9", reason="wrong patient", provider_id=world.provider_a)
    assert _assert_current(session, 2024).canonical() == after.canonical()

    from equicover.synth.service import generate

    claims_path = tmp_path / "claims.csv"
    generate(people=300, seed=11, year=2018, session=session, claims_path=claims_path)
    report = load_settled_claims(
        session=session,
        policy=load_policy(POLICY),
        claims_path=claims_path,
        scheme_code="urban-rural-resident-bmi",
        synthetic_submission=True,
    )
    loaded = _assert_current(session, 2018)
    assert loaded.claims == report.claims > 0 and loaded.oop and loaded.visits
    assert _assert_current(session, 2024).canonical() == after.canonical()

    # A bulk-loaded claim reversed: only its year moves.
    bulk_claim = session.scalars(
        select(Claim).where(Claim.service_date >= dt.date(2018, 1, 1)).order_by(Claim.id.desc()).limit(1)
    ).one()
    reverse_claim(session=session, claim_id=bulk_claim.claim_id, reason="duplicate", provider_id=bulk_claim.provider_id)
    assert _assert_current(session, 2018).claims == loaded.claims - 1
    state = dashboard_totals.fold_state(session=session)
    assert state.claims_upto == session.scalar(select(func.max(Claim.id)))


def test_a_claim_missed_by_a_fold_is_counted_when_it_appears(session: Session) -> None:
    world = vn_claims_world(session)
    dashboard_totals.fold(session=session)
    late = claim(session, claim_id="A-OP7", person_id=world.person_ids[0], service_date=dt.date(2024, 10, 2))
    later = claim(session, claim_id="A-OP8", person_id=world.person_ids[1], service_date=dt.date(2024, 10, 3))
    # As on PostgreSQL when the transaction of A-OP7 commits after that of A-OP8 was counted: the
    # mark passed A-OP7, whose id is kept as a hole.
    later_only = dashboard_totals._Deltas()
    later_only.add(session, [Claim.id == later.id], 1)
    later_only.store(session)
    session.execute(update(DashboardFold).values(claims_upto=later.id))
    session.add(DashboardFoldHole(source="claims", record_id=late.id, awaited_until_xid=2**62))
    session.flush()
    result = dashboard_totals.fold(session=session)
    assert result is not None and result.claims == 1
    _assert_current(session, 2024)
    assert session.get(DashboardFoldHole, ("claims", late.id)) is None


def test_rebuild_recounts_from_the_claims(session: Session) -> None:
    vn_claims_world(session)
    counted = _assert_current(session, 2024)
    session.execute(update(DashboardFold).values(claims_upto=0))  # as if every claim were new again
    session.execute(delete(DashboardFoldHole))
    dashboard_totals.fold(session=session)
    assert dashboard_totals.read_totals(session=session, year=2024).claims == 2 * counted.claims
    result = dashboard_totals.rebuild(session=session)
    assert result.claims == 9
    assert _assert_current(session, 2024).canonical() == counted.canonical()


def test_coverage_fingerprint_moves_with_the_registry_not_with_claims(session: Session) -> None:
    from equicover.audit.service import record_change

    world = vn_claims_world(session)
    dashboard_totals.fold(session=session)
    before = dashboard_totals.other_changes(session=session)
    claim(session, claim_id="A-OP6", person_id=world.person_ids[0], service_date=dt.date(2024, 10, 4))
    reverse_claim(session=session, claim_id="A-OP6", reason="wrong date", provider_id=world.provider_a)
    dashboard_totals.fold(session=session)
    assert dashboard_totals.other_changes(session=session) == before
    record_change(
        session=session, actor="test", entity="enrolments", entity_id=1, action="end", before=None, after=None
    )
    assert dashboard_totals.other_changes(session=session) == before + 1  # seen before any fold
    dashboard_totals.fold(session=session)
    assert dashboard_totals.other_changes(session=session) == before + 1  # and once folded, counted once


def test_command_folds_and_rebuilds_the_totals(cli_database: str) -> None:
    from typer.testing import CliRunner

    from equicover.cli import app
    from equicover.db.engine import make_engine
    from equicover.db.session import make_session_factory, session_scope

    engine = make_engine(cli_database)
    with session_scope(make_session_factory(engine)) as session:
        vn_claims_world(session)
    runner = CliRunner()
    folded = runner.invoke(app, ["report", "dashboard-totals"])
    assert folded.exit_code == 0, folded.output
    assert "Counted 9 claims and 0 reversals" in folded.output
    again = runner.invoke(app, ["report", "dashboard-totals"])
    assert "Counted 0 claims" in again.output
    rebuilt = runner.invoke(app, ["report", "dashboard-totals", "--rebuild"])
    assert "Counted 9 claims" in rebuilt.output
    with session_scope(make_session_factory(engine)) as session:
        assert dashboard_totals.read_totals(session=session, year=2024).claims == 9
    engine.dispose()


# Only PostgreSQL lets an id commit after a higher one: SQLite has one writer at a time.
@pytest.mark.parametrize("empty_db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_a_claim_committed_after_a_higher_one_is_counted_once(empty_db_url: str) -> None:
    """Two real transactions on PostgreSQL: the claim whose id comes first commits last."""
    from equicover.db.engine import make_engine
    from equicover.db.migrate import upgrade
    from equicover.db.session import make_session_factory, session_scope

    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        world = vn_claims_world(session)
    with session_scope(factory) as session:
        dashboard_totals.fold(session=session)
    slow = factory()
    try:
        first = claim(slow, claim_id="A-OP8", person_id=world.person_ids[0], service_date=dt.date(2024, 10, 5))
        slow.flush()  # its id is taken, its transaction still open
        with session_scope(factory) as fast:
            second = claim(
                fast,
                claim_id="B-OP8",
                person_id=world.other_person_id,
                provider_code="PB",
                service_date=dt.date(2024, 10, 6),
            )
        assert first.id < second.id
        with session_scope(factory) as session:
            result = dashboard_totals.fold(session=session)
            assert result.claims == 1 and result.holes >= 1
            assert dashboard_totals.read_totals(session=session, year=2024).claims == 10
        slow.commit()
    finally:
        slow.close()
    with session_scope(factory) as session:
        result = dashboard_totals.fold(session=session)
        assert result.claims == 1
        assert _assert_current(session, 2024).claims == 11
        assert dashboard_totals.fold(session=session).claims == 0  # counted once
    with session_scope(factory) as session:
        assert dashboard_totals.fold(session=session).holes == 0  # nothing left running to fill them
    engine.dispose()


def test_background_refresher_folds_committed_claims_and_keeps_the_pages_coverage(cli_database: str) -> None:
    import time

    from equicover.db.engine import make_engine
    from equicover.db.session import make_session_factory, session_scope

    engine = make_engine(cli_database)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        vn_claims_world(session)
    opening = dt.date(2024, 6, 30)  # mid-year of the latest year with claims
    with session_scope(factory) as session:
        assert opening not in dashboard_coverage.built_dates(session=session)
    pages_day = dt.date(2024, 12, 31)  # the day the other pages open on
    refresher = dashboard_totals.TotalsRefresher(factory, every=0.05, pages_day=lambda _session: pages_day)
    refresher.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with session_scope(factory) as session:
                if dashboard_totals.read_totals(session=session, year=2024).claims == 9 and {
                    opening,
                    pages_day,
                } <= set(dashboard_coverage.built_dates(session=session)):
                    break
            time.sleep(0.05)
    finally:
        refresher.close()
    with session_scope(factory) as session:
        assert dashboard_totals.read_totals(session=session, year=2024).claims == 9
        assert dashboard_totals.fold_state(session=session).claims_upto == session.scalar(select(func.max(Claim.id)))
        # the first view of the dashboard reads the kept coverage, as a full count gives it
        assert dashboard_coverage.built_dates(session=session) == [opening, pages_day]
        kept = dashboard_coverage.coverage_rows(session=session, on=opening, by="district")
        counted = enrolment_service.coverage(session=session, on=opening, by="district")
        assert [(r.group_code, r.eligible, r.enrolled) for r in kept] == [
            (r.group_code, r.eligible, r.enrolled) for r in counted
        ]
    engine.dispose()
