"""The fund manager's dashboard totals, kept current as claims arrive: the only door to the
``dashboard_*`` tables.

A page never reads the year's claims. :func:`fold` reads what is new since the last fold (claims
above a mark, and reversals in the change log above another) and adds it to per-year totals:
paid by facility, payer and month; settled claims and the registered poor's in-county stays by
facility; primary-care consultations (:mod:`equicover.reports.primary_care`) by the patient's
district. Every claim adds its share once, whatever its status, and every reversal takes the same
share back out once, so the totals are those of the settled claims in any order the two are read.
:func:`year_totals` folds what is new (little: a background :class:`TotalsRefresher` folds every
few seconds) and reads the year's totals; :func:`scanned_totals` computes the same figures from
the claims themselves, for proof and repair. The same fold moves the dashboard's coverage
(:mod:`equicover.reports.dashboard_coverage`) by the change log's registry and enrolment rows;
:func:`coverage` reads it, and :func:`coverage_gaps` the registrar's gaps kept with it.

On PostgreSQL ids are handed out before their transactions commit, so a claim may become visible
after a higher id was counted. The ids missing below a mark are kept as holes and looked for again
on every fold, until every transaction that was running when they were missed has ended
(``pg_snapshot_xmin``): only then can no claim fill them. SQLite has one writer at a time, so an id
below a visible one is never still to come.

What the totals fix at the moment of counting: the district of a patient's visit is the district
the person lived in when the visit was counted (a person who moves later, or whose claims a merge
moves, keeps the visits where they were counted); :func:`rebuild` recounts from the claims.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    case,
    cast,
    delete,
    exists,
    extract,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased, sessionmaker

from equicover.audit.models import ChangeLog
from equicover.claims.models import Claim, ClaimPayment
from equicover.db.session import session_scope
from equicover.enrolment import service as enrolment_service
from equicover.enrolment.schemas import CoverageRow
from equicover.errors import NotFound
from equicover.providers.models import Provider
from equicover.registry.models import Location, Person
from equicover.reports import dashboard_coverage
from equicover.reports.models import (
    DashboardFold,
    DashboardFoldHole,
    DashboardPayments,
    DashboardProviderClaims,
    DashboardVisits,
)
from equicover.reports.primary_care import consultation_condition

log = logging.getLogger(__name__)

POOR_CATEGORY = "registered_poor"
REFRESH_SECONDS = 5.0  # how often the background refresher folds: the figures are at most this far behind
# A page reads totals folded this recently as they are, instead of waiting for a fold of its own
# (behind a background fold's lock while claims stream in): at most this far behind.
PAGE_LAG = dt.timedelta(seconds=2 * REFRESH_SECONDS)
FOLD_ROW = 1
IDS_PER_STATEMENT = 5_000  # ids bound in one statement (SQLite and psycopg limit parameters)
FOLD_LOCK_WAIT = "3s"  # a page waits this long at most for a fold running elsewhere
# A kept coverage date is counted again from every person this often (background), for the writes
# that do not go through the change log; the change log moves it at every fold meanwhile.
COVERAGE_RECOUNT_AGE = dt.timedelta(hours=6)

# (year, month, provider_id, kind, item_id, payer) -> [amount, payment rows]
PaymentKey = tuple[int, int, int, str, str, str]
# (year, provider_id) -> [claims, poor inpatient claims, their member_oop, their allowed]
ProviderKey = tuple[int, int]
# (year, district_id) -> visits
VisitKey = tuple[int, int]


@dataclass(frozen=True)
class YearTotals:
    """The dashboard's claim figures for one year (integers, minor units)."""

    # provider_id, kind, item_id, payer, month, amount: what the funds paid (payment rows above zero)
    payments: list[tuple[int, str, str, str, int, int]]
    oop: list[tuple[str, int, int, int]]  # district name, member_oop, allowed, claims (poor in-county inpatients)
    visits: dict[int, int]  # district id -> outpatient visits of its residents
    claims_by_provider: dict[int, int]  # provider id -> settled claims
    claims: int

    def canonical(self) -> tuple[Any, ...]:
        """The same figures in one order (the database returns groups in any)."""
        return (
            sorted(self.payments),
            sorted(self.oop),
            sorted(self.visits.items()),
            sorted(self.claims_by_provider.items()),
            self.claims,
        )


@dataclass
class _Deltas:
    payments: dict[PaymentKey, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    providers: dict[ProviderKey, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    visits: dict[VisitKey, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, session: Session, conditions: Sequence[ColumnElement[bool]], sign: int) -> None:
        """Add (sign 1) or take out (sign -1) the shares of the claims that meet ``conditions``."""
        year = cast(extract("year", Claim.service_date), Integer)
        month = cast(extract("month", Claim.service_date), Integer)
        for y, m, provider_id, kind, item_id, payer, amount, rows in session.execute(
            select(
                year,
                month,
                Claim.provider_id,
                ClaimPayment.kind,
                ClaimPayment.item_id,
                ClaimPayment.payer,
                func.sum(ClaimPayment.amount),
                func.count(),
            )
            .select_from(ClaimPayment)
            .join(Claim, Claim.id == ClaimPayment.claim_pk)
            .where(ClaimPayment.amount > 0, *conditions)
            .group_by(year, month, Claim.provider_id, ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer)
        ):
            entry = self.payments[(int(y), int(m), int(provider_id), kind, item_id, payer)]
            entry[0] += sign * int(amount)
            entry[1] += sign * int(rows)

        # Claim.categories is the ";"-joined categories on the service date, as settlement.report reads it.
        poor = (
            (Claim.care_type == "inpatient")
            & Claim.in_area.is_(True)
            & Claim.categories.contains(POOR_CATEGORY, autoescape=True)
        )
        for y, provider_id, claims, poor_claims, member_oop, allowed in session.execute(
            select(
                year,
                Claim.provider_id,
                func.count(),
                func.sum(case((poor, 1), else_=0)),
                func.sum(case((poor, Claim.member_oop), else_=0)),
                func.sum(case((poor, Claim.allowed), else_=0)),
            )
            .where(*conditions)
            .group_by(year, Claim.provider_id)
        ):
            totals = self.providers[(int(y), int(provider_id))]
            for index, value in enumerate((claims, poor_claims, member_oop, allowed)):
                totals[index] += sign * int(value or 0)

        person_district = aliased(Location)
        for y, district_id, visits in session.execute(
            select(year, person_district.district_id, func.count())
            .select_from(Claim)
            .join(Person, Person.id == Claim.person_id)
            .join(person_district, person_district.id == Person.location_id)
            .where(*conditions, consultation_condition(session=session), person_district.district_id.is_not(None))
            .group_by(year, person_district.district_id)
        ):
            if district_id is not None:  # excluded by the query; the column may be empty
                self.visits[(int(y), int(district_id))] += sign * int(visits)

    def store(self, session: Session) -> None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        batches: list[tuple[Any, list[str], list[dict[str, Any]]]] = [
            (
                DashboardPayments,
                ["amount", "payment_rows"],
                [
                    dict(zip(("year", "month", "provider_id", "kind", "item_id", "payer"), key, strict=True))
                    | {"amount": amount, "payment_rows": rows}
                    for key, (amount, rows) in self.payments.items()
                    if amount or rows
                ],
            ),
            (
                DashboardProviderClaims,
                ["claims", "poor_inpatient_claims", "poor_inpatient_member_oop", "poor_inpatient_allowed"],
                [
                    {
                        "year": y,
                        "provider_id": provider_id,
                        "claims": values[0],
                        "poor_inpatient_claims": values[1],
                        "poor_inpatient_member_oop": values[2],
                        "poor_inpatient_allowed": values[3],
                    }
                    for (y, provider_id), values in self.providers.items()
                    if any(values)
                ],
            ),
            (
                DashboardVisits,
                ["visits"],
                [
                    {"year": y, "district_id": district_id, "visits": visits}
                    for (y, district_id), visits in self.visits.items()
                    if visits
                ],
            ),
        ]
        for model, counters, rows in batches:
            if not rows:
                continue
            table = model.__table__
            statement = insert(table)
            statement = statement.on_conflict_do_update(
                index_elements=[column.name for column in table.primary_key.columns],
                set_={name: table.c[name] + statement.excluded[name] for name in counters},
            )
            session.execute(statement, rows)


@dataclass(frozen=True)
class FoldResult:
    claims: int  # claims counted
    reversals: int  # reversals taken out
    holes: int  # ids still awaited


def _running_xmin(session: Session) -> int | None:
    """The oldest transaction still running (PostgreSQL); None where every visible id is final."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")))


def _next_xid(session: Session) -> int:
    return int(session.scalar(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")))


def _lock_fold(session: Session) -> DashboardFold | None:
    """The fold row, locked for this transaction, read as the last fold left it."""
    if session.get_bind().dialect.name == "postgresql":
        # A fold running elsewhere ends within moments: wait for it rather than read the totals
        # from before it, but not for a transaction that holds the row and lingers.
        session.execute(text(f"SET LOCAL lock_timeout = '{FOLD_LOCK_WAIT}'"))
        query = select(DashboardFold).where(DashboardFold.id == FOLD_ROW).with_for_update()
        # A timeout aborts the caller's savepoint, which takes the setting back with it.
        state = session.scalars(query.execution_options(populate_existing=True)).first()
        session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
        return state
    # SQLite: the write lock is taken by the first write; take it before reading the marks.
    session.execute(update(DashboardFold).where(DashboardFold.id == FOLD_ROW).values(id=FOLD_ROW))
    return session.get(DashboardFold, FOLD_ROW, populate_existing=True)


def _missing_ids(session: Session, column: Any, upto: int, last: int) -> list[int]:
    """The ids in (upto, last] not visible now, from the gaps between visible ones (a window over
    the new ids, not the ids themselves)."""
    in_range = [column > upto, column <= last]
    first = session.scalar(select(func.min(column)).where(*in_range))
    if first is None:
        return list(range(upto + 1, last + 1))
    missing = list(range(upto + 1, int(first)))
    ordered = select(column.label("id"), func.lead(column).over(order_by=column).label("next")).where(*in_range)
    gaps = ordered.subquery()
    for start, end in session.execute(select(gaps.c.id, gaps.c.next).where(gaps.c.next - gaps.c.id > 1)):
        missing.extend(range(int(start) + 1, int(end)))
    return missing


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """Lists of ids small enough for one statement's parameters (shares add up, so any split will do)."""
    ordered = sorted(ids)
    for start in range(0, len(ordered), IDS_PER_STATEMENT):
        yield ordered[start : start + IDS_PER_STATEMENT]


def _visible(session: Session, column: Any, ids: Iterable[int]) -> set[int]:
    return {int(found) for chunk in _chunks(ids) for found in session.scalars(select(column).where(column.in_(chunk)))}


def fold(*, session: Session, now: dt.datetime | None = None) -> FoldResult:
    """Add what was stored since the last fold to the totals (waiting for a fold running elsewhere).

    Runs in the caller's transaction (it never commits) and reads the claims only by id ranges and
    lists of ids, so its cost is that of what is new. Under READ COMMITTED every statement sees
    what was committed when it began: which ids are counted is therefore settled first (the holes
    that filled; the new ids minus those missing, kept as holes), and every later statement reads
    exactly those."""
    state = _lock_fold(session)
    if state is None:  # pragma: no cover - the migration writes the row
        raise NotFound("dashboard totals", "dashboard_fold", "the database is not migrated to 0016")
    xmin = _running_xmin(session)
    awaited = {
        source: set(session.scalars(select(DashboardFoldHole.record_id).where(DashboardFoldHole.source == source)))
        for source in ("claims", "changes")
    }
    filled = _visible(session, Claim.id, awaited["claims"])
    filled_changes = _visible(session, ChangeLog.id, awaited["changes"])
    for source, gone in (("claims", filled), ("changes", filled_changes)):
        for chunk in _chunks(gone):
            session.execute(
                delete(DashboardFoldHole).where(
                    DashboardFoldHole.source == source, DashboardFoldHole.record_id.in_(chunk)
                )
            )
    if xmin is not None:
        # Whatever could still fill these has ended, and they were just looked for.
        session.execute(delete(DashboardFoldHole).where(DashboardFoldHole.awaited_until_xid <= xmin))

    last_claim = max(state.claims_upto, int(session.scalar(select(func.max(Claim.id))) or 0))
    last_change = max(state.changes_upto, int(session.scalar(select(func.max(ChangeLog.id))) or 0))
    missing: dict[str, list[int]] = {"claims": [], "changes": []}
    if xmin is not None:
        missing["claims"] = _missing_ids(session, Claim.id, state.claims_upto, last_claim)
        missing["changes"] = _missing_ids(session, ChangeLog.id, state.changes_upto, last_change)
        # Stamped with the first transaction not yet started, read after the ids were listed.
        xmax = _next_xid(session)
        new_holes = [
            {"source": source, "record_id": hole, "awaited_until_xid": xmax}
            for source, holes in missing.items()
            for hole in holes
        ]
        for start in range(0, len(new_holes), IDS_PER_STATEMENT):
            session.execute(DashboardFoldHole.__table__.insert(), new_holes[start : start + IDS_PER_STATEMENT])

    def new_ids(column: Any, upto: int, last: int, source: str) -> list[ColumnElement[bool]]:
        """The ids above the mark that were visible when the holes were listed."""
        conditions: list[ColumnElement[bool]] = [column > upto, column <= last]
        if missing[source]:
            held = select(DashboardFoldHole.record_id).where(DashboardFoldHole.source == source)
            conditions.append(column.not_in(held))
        return conditions

    deltas = _Deltas()
    counted = len(filled)
    for chunk in _chunks(filled):
        deltas.add(session, [Claim.id.in_(chunk)], 1)
    if last_claim > state.claims_upto:
        new_claims = new_ids(Claim.id, state.claims_upto, last_claim, "claims")
        deltas.add(session, new_claims, 1)
        counted += int(session.scalar(select(func.count()).select_from(Claim).where(*new_claims)) or 0)

    # Reversals: each reversed claim's share comes back out, whenever the claim was counted.
    reversal = [ChangeLog.entity == "claims", ChangeLog.action == "reverse"]
    not_claims = ChangeLog.entity != "claims"
    reversed_pks: set[int] = set()
    other_changes = 0
    # The coverage kept for the dashboard moves with the same rows (only once a date is kept).
    keeps_coverage = bool(dashboard_coverage.built_dates(session=session))
    registry_changes: list[tuple[str, int | None, str]] = []
    registry_entities = ChangeLog.entity.in_(dashboard_coverage.PERSON_ENTITIES + dashboard_coverage.REBUILD_ENTITIES)
    change_rows = select(ChangeLog.entity, ChangeLog.entity_id, ChangeLog.action).where(registry_entities)
    for chunk in _chunks(filled_changes):
        reversed_pks |= set(session.scalars(select(ChangeLog.entity_id).where(ChangeLog.id.in_(chunk), *reversal)))
        other_changes += int(session.scalar(select(func.count()).where(ChangeLog.id.in_(chunk), not_claims)) or 0)
        if keeps_coverage:
            registry_changes += [
                (row.entity, row.entity_id, row.action)
                for row in session.execute(change_rows.where(ChangeLog.id.in_(chunk)))
            ]
    if last_change > state.changes_upto:
        new_changes = new_ids(ChangeLog.id, state.changes_upto, last_change, "changes")
        reversed_pks |= set(session.scalars(select(ChangeLog.entity_id).where(*new_changes, *reversal)))
        other_changes += int(session.scalar(select(func.count()).where(*new_changes, not_claims)) or 0)
        if keeps_coverage:
            registry_changes += [
                (row.entity, row.entity_id, row.action) for row in session.execute(change_rows.where(*new_changes))
            ]
    if registry_changes:
        dashboard_coverage.apply_changes(session=session, changes=registry_changes)
    for chunk in _chunks(reversed_pks):
        deltas.add(session, [Claim.id.in_(chunk)], -1)
    deltas.store(session)

    if xmin is None:
        # One writer at a time: an id below a committed one is never still to come.
        session.execute(delete(DashboardFoldHole))
    state.claims_upto = last_claim
    state.changes_upto = last_change
    state.other_changes += other_changes
    state.folded_at = now or dt.datetime.now(dt.UTC)
    session.flush()
    holes = int(session.scalar(select(func.count()).select_from(DashboardFoldHole)) or 0)
    return FoldResult(claims=counted, reversals=len(reversed_pks), holes=holes)


def try_fold(*, session: Session) -> FoldResult | None:
    """:func:`fold` in a savepoint, giving way to a writer that holds the database too long
    (SQLite's busy timeout, ``FOLD_LOCK_WAIT`` on PostgreSQL): the totals are then read as the last
    fold left them."""
    try:
        with session.begin_nested():
            return fold(session=session)
    except OperationalError:
        log.info("dashboard totals: fold skipped, the database is busy")
        return None


@dataclass(frozen=True)
class PaidSums:
    """What the funds paid in a year, as the dashboard shows it (minor units)."""

    by_item_month: list[tuple[str, str, str, int, int]]  # kind, item_id, payer, month, amount
    by_provider: dict[int, int]


def paid_sums(*, session: Session, year: int) -> PaidSums:
    """The year's payments by payer item and month, and by provider, as the last fold left them:
    summed in the database (a year holds a row per provider, month and payer item: tens of
    thousands at a province's size)."""
    paid = DashboardPayments.year == year, DashboardPayments.payment_rows > 0
    by_item_month = [
        (kind, item_id, payer, int(month), int(amount))
        for kind, item_id, payer, month, amount in session.execute(
            select(
                DashboardPayments.kind,
                DashboardPayments.item_id,
                func.min(DashboardPayments.payer),
                DashboardPayments.month,
                func.sum(DashboardPayments.amount),
            )
            .where(*paid)
            .group_by(DashboardPayments.kind, DashboardPayments.item_id, DashboardPayments.month)
        )
    ]
    by_provider = {
        int(provider_id): int(amount)
        for provider_id, amount in session.execute(
            select(DashboardPayments.provider_id, func.sum(DashboardPayments.amount))
            .where(*paid)
            .group_by(DashboardPayments.provider_id)
        )
    }
    return PaidSums(by_item_month=by_item_month, by_provider=by_provider)


def read_totals(*, session: Session, year: int, payments: bool = True) -> YearTotals:
    """The year's totals as the last fold left them; ``payments`` False leaves the payments out
    (empty): the dashboard reads them summed (:func:`paid_sums`)."""
    rows = (
        [
            (int(provider_id), kind, item_id, payer, int(month), int(amount))
            for provider_id, kind, item_id, payer, month, amount in session.execute(
                select(
                    DashboardPayments.provider_id,
                    DashboardPayments.kind,
                    DashboardPayments.item_id,
                    func.min(DashboardPayments.payer),
                    DashboardPayments.month,
                    func.sum(DashboardPayments.amount),
                )
                .where(DashboardPayments.year == year, DashboardPayments.payment_rows > 0)
                .group_by(
                    DashboardPayments.provider_id,
                    DashboardPayments.kind,
                    DashboardPayments.item_id,
                    DashboardPayments.month,
                )
            )
        ]
        if payments
        else []
    )
    home, district = aliased(Location), aliased(Location)
    oop = [
        (name, int(member_oop), int(allowed), int(count))
        for name, member_oop, allowed, count in session.execute(
            select(
                district.name,
                func.sum(DashboardProviderClaims.poor_inpatient_member_oop),
                func.sum(DashboardProviderClaims.poor_inpatient_allowed),
                func.sum(DashboardProviderClaims.poor_inpatient_claims),
            )
            .join(Provider, Provider.id == DashboardProviderClaims.provider_id)
            .join(home, home.id == Provider.location_id)
            .join(district, district.id == home.district_id)
            .where(DashboardProviderClaims.year == year, DashboardProviderClaims.poor_inpatient_claims > 0)
            .group_by(district.name)
            .order_by(district.name)
        )
    ]
    visits = {
        int(district_id): int(count)
        for district_id, count in session.execute(
            select(DashboardVisits.district_id, DashboardVisits.visits).where(
                DashboardVisits.year == year, DashboardVisits.visits > 0
            )
        )
    }
    claims_by_provider = {
        int(provider_id): int(count)
        for provider_id, count in session.execute(
            select(DashboardProviderClaims.provider_id, DashboardProviderClaims.claims).where(
                DashboardProviderClaims.year == year, DashboardProviderClaims.claims > 0
            )
        )
    }
    return YearTotals(
        payments=rows,
        oop=oop,
        visits=visits,
        claims_by_provider=claims_by_provider,
        claims=sum(claims_by_provider.values()),
    )


def other_changes(*, session: Session) -> int:
    """How many change-log rows are not about claims, counted without folding (those folded and
    those above the mark): moves when the registry or the enrolments change, never with a claim's
    submission or reversal."""
    state = session.execute(
        select(DashboardFold.changes_upto, DashboardFold.other_changes).where(DashboardFold.id == FOLD_ROW)
    ).first()
    if state is None:  # pragma: no cover - the migration writes the row
        raise NotFound("dashboard totals", "dashboard_fold", "the database is not migrated to 0016")
    unfolded = session.scalar(
        select(func.count()).where(ChangeLog.id > state.changes_upto, ChangeLog.entity != "claims")
    )
    return int(state.other_changes) + int(unfolded or 0)


def coverage(
    *, session: Session, on: dt.date, lag: dt.timedelta = dt.timedelta(0)
) -> tuple[list[CoverageRow], list[CoverageRow]]:
    """Coverage on ``on`` by district and by category, current: what is new in the change log is
    folded first (unless the last fold is at most ``lag`` old); a date asked for the first time is
    counted from every person (once, with the fold row locked so that no fold moves it
    meanwhile), then kept and moved by every fold."""
    if not folded_within(session=session, lag=lag):
        try_fold(session=session)
    if on in dashboard_coverage.built_dates(session=session):
        dashboard_coverage.mark_read(session=session, on=on, now=dt.datetime.now(dt.UTC))
    else:
        try:
            with session.begin_nested():
                _lock_fold(session)
                if on not in dashboard_coverage.built_dates(session=session):
                    dashboard_coverage.build(session=session, on=on)
        except OperationalError:
            # A fold elsewhere holds the row too long: count this once without keeping it.
            log.info("dashboard coverage: the date is not kept yet, the database is busy")
            return (
                enrolment_service.coverage(session=session, on=on, by="district"),
                enrolment_service.coverage(session=session, on=on, by="category"),
            )
    return (
        dashboard_coverage.coverage_rows(session=session, on=on, by="district"),
        dashboard_coverage.coverage_rows(session=session, on=on, by="category"),
    )


def registry_changes_waiting(*, session: Session) -> bool:
    """Whether the change log shows a registry or enrolment change no fold has read yet (above
    the mark, or in a hole the fold still awaits): the kept coverage does not show it until the
    next fold. Claims' rows, however many stream in, do not count."""
    # The mark is read first and bound as a value: the planner then reads the change log's ids
    # above it from the primary key, not every row of the log (millions in a province's year).
    upto = session.scalar(select(DashboardFold.changes_upto).where(DashboardFold.id == FOLD_ROW)) or 0
    entities = ChangeLog.entity.in_(dashboard_coverage.PERSON_ENTITIES + dashboard_coverage.REBUILD_ENTITIES)
    above = exists().where(ChangeLog.id > upto, entities)
    in_hole = exists().where(
        DashboardFoldHole.source == "changes", ChangeLog.id == DashboardFoldHole.record_id, entities
    )
    return bool(session.scalar(select(above | in_hole)))


def coverage_gaps(
    *, session: Session, on: dt.date, category: str | None, area: Select[Any] | None, limit: int, offset: int
) -> tuple[list[int], int] | None:
    """The coverage gaps of ``on`` as kept (:func:`dashboard_coverage.gap_page`), current: a
    registry or enrolment change not folded yet (a registrar's enrolment a moment ago) is folded
    first, claims or not. None when ``on`` is not a kept date: the caller counts the gaps from the
    persons."""
    if registry_changes_waiting(session=session):
        try_fold(session=session)
    if on not in dashboard_coverage.built_dates(session=session):
        return None
    dashboard_coverage.mark_read(session=session, on=on, now=dt.datetime.now(dt.UTC))
    return dashboard_coverage.gap_page(session=session, on=on, category=category, area=area, limit=limit, offset=offset)


def year_of_data(*, session: Session) -> int:
    """The year the dashboard opens on: the latest year with claims (this year before any claim)."""
    latest = session.scalar(select(func.max(Claim.service_date)))
    return latest.year if latest else dt.date.today().year


def coverage_date(year: int) -> dt.date:
    """The day of a year the dashboard counts coverage on: mid-year, as the year's figures."""
    return dt.date(year, 6, 30)


def opening_coverage_date(*, session: Session) -> dt.date:
    """The date the dashboard opens on."""
    return coverage_date(year_of_data(session=session))


def keep_coverage(*, session: Session, days: Iterable[dt.date]) -> list[dt.date]:
    """Count the coverage of these dates, those not kept yet: in the background, so that no one's
    first view waits for a count of every person. Returns the dates counted."""
    counted = []
    for on in sorted(set(days)):
        if on not in dashboard_coverage.built_dates(session=session):
            coverage(session=session, on=on)
            counted.append(on)
    return counted


def forget_unread_coverage(
    *, session: Session, keep: Iterable[dt.date], now: dt.datetime | None = None
) -> list[dt.date]:
    """Forget the kept dates no page has read for ``dashboard_coverage.KEEP_UNREAD``, but those
    in ``keep`` (the dates the pages open on): every fold moves every kept date, and the pages'
    day moves on each day while the data is live. Returns the dates forgotten."""
    unread = set(dashboard_coverage.unread_dates(session=session, now=now or dt.datetime.now(dt.UTC))) - set(keep)
    if not unread:
        return []
    with session.begin_nested():
        _lock_fold(session)
        for on in sorted(unread):
            dashboard_coverage.forget(session=session, on=on)
    return sorted(unread)


def recount_stale_coverage(*, session: Session, now: dt.datetime | None = None) -> dt.date | None:
    """Count again from every person the oldest kept date built more than
    ``COVERAGE_RECOUNT_AGE`` ago (one a call, in the background refresher): a write that went
    around the change log (a repair by hand, a bulk load that logged nothing) is in the figures
    within that time. Returns the date counted again, if any."""
    now = now or dt.datetime.now(dt.UTC)
    stale = dashboard_coverage.stale_date(session=session, built_before=now - COVERAGE_RECOUNT_AGE)
    if stale is None:
        return None
    with session.begin_nested():
        _lock_fold(session)
        dashboard_coverage.build(session=session, on=stale, now=now)
    return stale


def folded_within(*, session: Session, lag: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """Whether the last fold is at most ``lag`` old (never, for a zero ``lag``)."""
    if lag <= dt.timedelta(0):
        return False
    folded_at = session.scalar(select(DashboardFold.folded_at).where(DashboardFold.id == FOLD_ROW))
    if folded_at is None:
        return False
    if folded_at.tzinfo is None:  # SQLite keeps the UTC time without its zone
        folded_at = folded_at.replace(tzinfo=dt.UTC)
    return folded_at >= (now or dt.datetime.now(dt.UTC)) - lag


def year_totals(
    *, session: Session, year: int, payments: bool = True, lag: dt.timedelta = dt.timedelta(0)
) -> YearTotals:
    """The year's totals, current: what is new since the last fold is folded first, unless the
    last fold is at most ``lag`` old (a page reading what the background refresher keeps)."""
    if not folded_within(session=session, lag=lag):
        try_fold(session=session)
    return read_totals(session=session, year=year, payments=payments)


def scanned_totals(*, session: Session, year: int) -> YearTotals:
    """The same totals computed from the year's settled claims (a scan: seconds at a province's size)."""
    deltas = _Deltas()
    deltas.add(
        session,
        [
            Claim.service_date >= dt.date(year, 1, 1),
            Claim.service_date < dt.date(year + 1, 1, 1),
            Claim.status == "settled",
        ],
        1,
    )
    payments_by_group: dict[tuple[int, str, str, int], tuple[str, int]] = {}
    for (_y, month, provider_id, kind, item_id, payer), (amount, _rows) in deltas.payments.items():
        key = (provider_id, kind, item_id, month)
        earlier = payments_by_group.get(key)
        payments_by_group[key] = (payer, amount) if earlier is None else (min(earlier[0], payer), earlier[1] + amount)
    providers = {provider_id: values for (_y, provider_id), values in deltas.providers.items()}
    home, district = aliased(Location), aliased(Location)
    names = dict(
        session.execute(
            select(Provider.id, district.name)
            .join(home, home.id == Provider.location_id)
            .join(district, district.id == home.district_id)
            .where(Provider.id.in_(providers))
        ).all()
    )
    oop: dict[str, list[int]] = {}
    for provider_id, (_claims, poor_claims, member_oop, allowed) in providers.items():
        if poor_claims and provider_id in names:
            entry = oop.setdefault(names[provider_id], [0, 0, 0])
            entry[0] += member_oop
            entry[1] += allowed
            entry[2] += poor_claims
    return YearTotals(
        payments=[
            (provider_id, kind, item_id, payer, month, amount)
            for (provider_id, kind, item_id, month), (payer, amount) in payments_by_group.items()
        ],
        oop=[(name, *values) for name, values in sorted(oop.items())],  # type: ignore[misc]
        visits={district_id: visits for (_y, district_id), visits in deltas.visits.items()},
        claims_by_provider={provider_id: values[0] for provider_id, values in providers.items()},
        claims=sum(values[0] for values in providers.values()),
    )


def rebuild(*, session: Session) -> FoldResult:
    """Recount every total from the stored claims (after a person moved district, for instance)."""
    for model in (DashboardPayments, DashboardProviderClaims, DashboardVisits, DashboardFoldHole):
        session.execute(delete(model))
    session.execute(update(DashboardFold).where(DashboardFold.id == FOLD_ROW).values(claims_upto=0, changes_upto=0))
    return fold(session=session)


@dataclass(frozen=True)
class FoldState:
    claims_upto: int
    changes_upto: int
    other_changes: int
    folded_at: dt.datetime
    holes: int


def fold_state(*, session: Session) -> FoldState:
    """How far the totals have read."""
    state = session.get(DashboardFold, FOLD_ROW, populate_existing=True)
    if state is None:  # pragma: no cover - the migration writes the row
        raise NotFound("dashboard totals", "dashboard_fold", "the database is not migrated to 0016")
    holes = int(session.scalar(select(func.count()).select_from(DashboardFoldHole)) or 0)
    return FoldState(state.claims_upto, state.changes_upto, state.other_changes, state.folded_at, holes)


class TotalsRefresher:
    """Folds every ``every`` seconds in its own transaction, so that a page's fold is small; keeps
    the coverage (and its gaps) of the date the dashboard opens on and of ``pages_day`` (the day
    the other pages open on), and forgets the dates no page reads any more."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        every: float = REFRESH_SECONDS,
        pages_day: Callable[[Session], dt.date] | None = None,
    ) -> None:
        self._factory = session_factory
        self._every = every
        self._pages_day = pages_day
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dashboard-totals", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def days_kept(self, session: Session) -> set[dt.date]:
        days = {opening_coverage_date(session=session)}
        if self._pages_day is not None:
            days.add(self._pages_day(session))
        return days

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with session_scope(self._factory) as session:
                    try_fold(session=session)
                with session_scope(self._factory) as session:
                    days = self.days_kept(session)
                for day in sorted(days):  # one transaction each: a fold waits for one count at most
                    with session_scope(self._factory) as session:
                        keep_coverage(session=session, days=[day])
                with session_scope(self._factory) as session:
                    recount_stale_coverage(session=session)
                with session_scope(self._factory) as session:
                    forget_unread_coverage(session=session, keep=days)
            except Exception:  # the next round tries again; a page still folds on its own
                log.exception("dashboard totals: fold failed")
            self._stop.wait(self._every)
