"""Bulk-loaded claims move the members' accumulators exactly as the real-time service would.

The reference is always the real-time service itself: the same claims submitted one by one with
``submit_claim`` (a bulk file's claims in settlement order: member, service date, claim id) in
the same database state, inside a savepoint that is then rolled back; the bulk load runs in
another savepoint from the same state. The tables are compared: ``accumulators``,
``claim_accumulator_deltas`` (by claim id and layer), the claims' settlement and their non-zero
payments. A bulk file is written from the claims as the service stored them in the reference
run (level, designation, ``in_area`` and categories are what the service derives from the
registry), so both paths settle the same claims.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from equicover.claims.bulk import BulkLoadReport, load_settled_claims
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, StoredAccumulator
from equicover.claims.schemas import ClaimIn
from equicover.claims.service import eligibility, reverse_claim, submit_claim
from equicover.errors import ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.settlement.loader import load_policy
from equicover.settlement.model import Policy
from tests.factories import POLICIES, World, vn_world

VN_POLICY = POLICIES / "vn-shi-2024.toml"
YAAN_POLICY = POLICIES / "cn-yaan-2018.toml"
COLUMNS = ("claim_id", "member_id", "service_date", "provider_id", "provider_level", "designated", "in_area",
           "referred", "care_type", "diagnosis", "days", "total", "eligible", "categories")  # fmt: skip


# --------------------------------------------------------------------------------------------
# Claims, files and snapshots


@dataclass(frozen=True)
class Bill:
    claim_id: str
    person_id: int
    provider: str  # provider code
    on: dt.date
    care_type: str
    diagnosis: str
    days: int
    total: int
    eligible: int
    referred: bool

    def settlement_key(self) -> tuple[str, dt.date, str]:
        return (str(self.person_id), self.on, self.claim_id)


def submit(session: Session, bill: Bill, scheme_code: str | None = None) -> Claim:
    row, created = submit_claim(
        session=session,
        claim=ClaimIn(claim_id=bill.claim_id, person_id=bill.person_id, provider_code=bill.provider,
                      service_date=bill.on, care_type=bill.care_type, diagnosis=bill.diagnosis, days=bill.days,
                      total=bill.total, eligible=bill.eligible, referred=bill.referred, scheme_code=scheme_code),
        actor="test",
    )  # fmt: skip
    assert created
    return row


def as_stored(session: Session) -> dict[str, dict[str, Any]]:
    """What the service stored of each claim that the file of a bulk load needs (attributes it derives)."""
    rows = session.execute(
        select(Claim.claim_id, Claim.provider_level, Claim.designated, Claim.in_area, Claim.categories)
    ).all()
    return {
        row[0]: {"provider_level": row[1], "designated": row[2], "in_area": row[3], "categories": row[4]}
        for row in rows
    }


def write_file(path: Path, bills: list[Bill], stored: dict[str, dict[str, Any]], minor_digits: int) -> Path:
    def money(amount: int) -> str:
        if minor_digits == 0:
            return str(amount)
        return f"{amount // 10**minor_digits}.{amount % 10**minor_digits:0{minor_digits}d}"

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for bill in bills:
            seen = stored[bill.claim_id]
            writer.writerow({
                "claim_id": bill.claim_id, "member_id": str(bill.person_id), "service_date": bill.on.isoformat(),
                "provider_id": bill.provider, "provider_level": seen["provider_level"],
                "designated": str(seen["designated"]).lower(), "in_area": str(seen["in_area"]).lower(),
                "referred": str(bill.referred).lower(), "care_type": bill.care_type, "diagnosis": bill.diagnosis,
                "days": str(bill.days), "total": money(bill.total), "eligible": money(bill.eligible),
                "categories": seen["categories"],
            })  # fmt: skip
    return path


def load(session: Session, policy: Policy, path: Path, scheme_code: str | None = None) -> BulkLoadReport:
    return load_settled_claims(session=session, policy=policy, claims_path=path, scheme_code=scheme_code, actor="test")


@dataclass
class Snapshot:
    accumulators: dict[tuple[str, str, int], tuple[int, int, int]]
    deltas: dict[tuple[str, str], tuple[str, int, int, int, int]]
    claims: dict[str, tuple[Any, ...]]
    payments: dict[tuple[str, str, str], int]


def snapshot(session: Session, policy_id: str) -> Snapshot:
    session.flush()
    accumulators = {
        (m, layer, year): (position, paid, share)
        for m, layer, year, position, paid, share in session.execute(
            select(StoredAccumulator.member_id, StoredAccumulator.layer_id, StoredAccumulator.benefit_year,
                   StoredAccumulator.position, StoredAccumulator.paid, StoredAccumulator.member_share)
            .where(StoredAccumulator.policy_id == policy_id)
        )
    }  # fmt: skip
    deltas = {
        (claim_id, layer): (m, year, position, paid, share)
        for claim_id, layer, m, year, position, paid, share in session.execute(
            select(Claim.claim_id, ClaimAccumulatorDelta.layer_id, ClaimAccumulatorDelta.member_id,
                   ClaimAccumulatorDelta.benefit_year, ClaimAccumulatorDelta.position, ClaimAccumulatorDelta.paid,
                   ClaimAccumulatorDelta.member_share)
            .join(Claim, Claim.id == ClaimAccumulatorDelta.claim_pk)
            .where(ClaimAccumulatorDelta.policy_id == policy_id)
        )
    }  # fmt: skip
    claims = {
        row[0]: tuple(row[1:])
        for row in session.execute(
            select(
                Claim.claim_id,
                Claim.status,
                Claim.zero_reason,
                Claim.allowed,
                Claim.provider_writeoff,
                Claim.member_oop,
                Claim.trail,
            )
        )
    }
    payments = {
        (claim_id, kind, item): amount
        for claim_id, kind, item, amount in session.execute(
            select(Claim.claim_id, ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.amount)
            .join(Claim, Claim.id == ClaimPayment.claim_pk)
            .where(ClaimPayment.amount != 0)
        )
    }
    return Snapshot(accumulators, deltas, claims, payments)


def deltas_sum_to_accumulators(state: Snapshot) -> None:
    """Every accumulator is the sum of the deltas of the claims still settled (none is missing)."""
    sums: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (claim_id, layer), (member, year, position, paid, share) in state.deltas.items():
        if state.claims[claim_id][0] == "settled":
            total = sums[(member, layer, year)]
            total[0] += position
            total[1] += paid
            total[2] += share
    assert {key: tuple(value) for key, value in sums.items()} == {
        key: value for key, value in state.accumulators.items() if key in sums or any(value)
    }


def assert_same(bulk: Snapshot, reference: Snapshot) -> None:
    assert bulk.accumulators == reference.accumulators
    assert bulk.deltas == reference.deltas
    assert bulk.claims == reference.claims
    assert bulk.payments == reference.payments


# --------------------------------------------------------------------------------------------
# Random claim sets in the small Viet Nam world (tests.factories.vn_world)

# Persons: [0] registered poor, [1] five years' continuous membership (the co-payment cap of
# 14,040,000 a year applies in area), [2] not enrolled, [3] the member in the other district.
# PA and PB are contracted district hospitals, PC a commune station without a contract.
# A bill of nothing is not a bill (the real-time service refuses it): the smallest bill is 1 dong.
AMOUNTS = (1, 150_000, 350_999, 351_000, 2_000_000, 6_500_000, 14_040_000, 30_000_000, 70_200_000, 90_000_000)


@st.composite
def bills(draw: Any, number: int) -> Bill:
    care_type = draw(st.sampled_from(("outpatient", "inpatient", "emergency")))
    total = draw(st.one_of(st.sampled_from(AMOUNTS), st.integers(1, 100_000_000)))
    eligible = draw(st.one_of(st.just(total), st.integers(0, total)))
    return Bill(
        claim_id=f"H{number:03d}",
        person_id=draw(st.sampled_from((0, 1, 1, 1, 2, 3))),  # an index into the world's persons until placed
        provider=draw(st.sampled_from(("PA", "PA", "PB", "PC"))),
        on=dt.date(2024, 7, 1) + dt.timedelta(days=draw(st.integers(0, 364))),
        care_type=care_type,
        diagnosis=draw(st.sampled_from(("J06.9", "K35.8", "I10"))),
        days=draw(st.integers(1, 9)) if care_type == "inpatient" else 0,
        total=total,
        eligible=eligible,
        referred=draw(st.booleans()),
    )


@st.composite
def segments(draw: Any) -> list[tuple[str, list[Bill]]]:
    """1-3 segments of claims, each submitted in real time or bulk-loaded, at least one bulk."""
    count = draw(st.integers(1, 3))
    modes = draw(st.lists(st.sampled_from(("realtime", "bulk")), min_size=count, max_size=count))
    if "bulk" not in modes:
        modes[-1] = "bulk"
    drawn, number = [], 0
    for mode in modes:
        size = draw(st.integers(1, 7))
        drawn.append((mode, [draw(bills(number + i)) for i in range(size)]))
        number += size
    return drawn


def _place(world: World, bill: Bill) -> Bill:
    persons = [*world.person_ids, world.other_person_id]
    return Bill(**{**bill.__dict__, "person_id": persons[bill.person_id]})


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(drawn=segments(), pick=st.integers(0, 1000))
def test_bulk_loads_leave_the_accumulators_the_realtime_service_leaves(
    session: Session, tmp_path: Path, drawn: list[tuple[str, list[Bill]]], pick: int
) -> None:
    world = _vn_world(session)
    policy = load_policy(VN_POLICY)
    plan = [(mode, [_place(world, bill) for bill in group]) for mode, group in drawn]
    bulk_ids = [bill.claim_id for mode, group in plan if mode == "bulk" for bill in group]

    # The reference: every claim through submit_claim (a bulk file's in settlement order).
    reference = session.begin_nested()
    for mode, group in plan:
        for bill in group if mode == "realtime" else sorted(group, key=Bill.settlement_key):
            submit(session, bill)
    expected = snapshot(session, policy.id)
    stored = as_stored(session)
    paid_bulk = [claim_id for claim_id in bulk_ids if expected.claims[claim_id][1] is None]
    chosen = paid_bulk[pick % len(paid_bulk)] if paid_bulk else None
    if chosen is not None:
        reverse_claim(session=session, claim_id=chosen, reason="test")
        expected_after = snapshot(session, policy.id)
    reference.rollback()

    # The same segments, the bulk ones through the loader.
    attempt = session.begin_nested()
    for index, (mode, group) in enumerate(plan):
        if mode == "realtime":
            for bill in group:
                submit(session, bill)
        else:
            path = write_file(tmp_path / f"segment-{index}.csv", group, stored, policy.minor_digits)
            report = load(session, policy, path)
            assert report.claims == len(group)
    loaded = snapshot(session, policy.id)
    assert_same(loaded, expected)
    deltas_sum_to_accumulators(loaded)
    if chosen is not None:
        reverse_claim(session=session, claim_id=chosen, reason="test")
        after = snapshot(session, policy.id)
        assert_same(after, expected_after)
        deltas_sum_to_accumulators(after)
    attempt.rollback()


def _vn_world(session: Session) -> World:
    """The world once per test (Hypothesis runs every example in the same function-scoped session)."""
    if "vn_world" not in session.info:
        session.info["vn_world"] = vn_world(session)
    return session.info["vn_world"]


# --------------------------------------------------------------------------------------------
# Fixed cases


def _five_years_member_claims(world: World) -> list[Bill]:
    member = world.person_ids[1]  # five_year_continuous: the co-payment cap applies in area
    return [
        Bill("F-1", member, "PA", dt.date(2024, 8, 1), "inpatient", "K35.8", 5, 40_000_000, 40_000_000, False),
        Bill("F-2", member, "PC", dt.date(2024, 8, 10), "inpatient", "K35.8", 5, 90_000_000, 90_000_000, False),
        Bill("F-3", member, "PA", dt.date(2024, 9, 1), "inpatient", "K35.8", 5, 50_000_000, 50_000_000, False),
    ]


def test_out_of_contract_claim_moves_nothing_and_eligibility_shows_what_was_used(
    session: Session, tmp_path: Path
) -> None:
    world = vn_world(session)
    policy = load_policy(VN_POLICY)
    bills_ = _five_years_member_claims(world)
    stored = {
        bill.claim_id: {
            "provider_level": "commune" if bill.provider == "PC" else "district",
            "designated": True,
            "in_area": bill.provider != "PB",
            "categories": "five_year_continuous",
        }
        for bill in bills_
    }

    without = session.begin_nested()
    load(session, policy, write_file(tmp_path / "without.csv", [b for b in bills_ if b.provider != "PC"], stored, 0))
    expected = snapshot(session, policy.id)
    without.rollback()

    report = load(session, policy, write_file(tmp_path / "all.csv", bills_, stored, 0))
    assert report.claims == 3 and report.zero_outside_contract == 1 and report.zero_not_covered == 0
    state = snapshot(session, policy.id)
    # The 90,000,000 bill at PC (no contract) is stored paid nothing, moved nothing, and left the
    # member's co-payment cap to the contracted claims: everything else is as without it.
    assert state.claims["F-2"] == ("settled", "no_contract", 90_000_000, 0, 90_000_000, "")
    assert not [key for key in state.deltas if key[0] == "F-2"]
    assert not [key for key in state.payments if key[0] == "F-2"]
    assert state.accumulators == expected.accumulators
    assert dict(state.deltas) == expected.deltas
    assert state.payments == expected.payments
    deltas_sum_to_accumulators(state)

    # The cap of 14,040,000 a year is reached: the member has used it all, and eligibility says so.
    member = str(world.person_ids[1])
    share = state.accumulators[(member, "copay_cap", 2024)][2]
    assert share == 14_040_000
    answer = eligibility(session=session, person_id=world.person_ids[1], on=dt.date(2024, 10, 1))
    (scheme,) = answer.schemes
    layers = {layer.layer_id: layer for layer in scheme.layers}
    assert layers["copay_cap"].used == 14_040_000 and layers["copay_cap"].remaining == 0
    assert layers["shi"].used == state.accumulators[(member, "shi", 2024)][1] > 0
    # The next benefit year starts afresh.
    next_year = eligibility(session=session, person_id=world.person_ids[1], on=dt.date(2025, 2, 1))
    assert {layer.layer_id: layer.used for layer in next_year.schemes[0].layers} == {"shi": 0, "copay_cap": 0}

    # A real-time claim after the load is held to the cap the loaded claims used up: the fund
    # pays the whole co-payment of an in-area claim.
    late = submit(session, Bill("F-4", world.person_ids[1], "PA", dt.date(2024, 11, 2), "inpatient", "K35.8", 3,
                                10_000_000, 10_000_000, False))  # fmt: skip
    assert late.member_oop == 0

    # Reversing a loaded claim takes exactly its deltas back out.
    before = snapshot(session, policy.id)
    reverse_claim(session=session, claim_id="F-3", reason="test")
    after = snapshot(session, policy.id)
    for key, value in before.accumulators.items():
        moved = before.deltas.get(("F-3", key[1])) if key[0] == member and key[2] == 2024 else None
        if moved is None:
            assert after.accumulators[key] == value
        else:
            assert after.accumulators[key] == tuple(v - d for v, d in zip(value, moved[2:]))
    deltas_sum_to_accumulators(after)


def test_a_member_not_enrolled_on_the_date_is_paid_nothing(session: Session, tmp_path: Path) -> None:
    world = vn_world(session)
    policy = load_policy(VN_POLICY)
    stranger = world.person_ids[2]  # not enrolled
    bill = Bill("N-1", stranger, "PA", dt.date(2024, 8, 1), "outpatient", "J06.9", 0, 500_000, 500_000, False)
    stored = {"N-1": {"provider_level": "district", "designated": True, "in_area": True, "categories": ""}}
    report = load(session, policy, write_file(tmp_path / "n.csv", [bill], stored, 0))
    assert report.zero_not_covered == 1 and report.deltas == 0 and report.accumulators == 0
    assert snapshot(session, policy.id).claims["N-1"] == ("settled", "not_covered", 500_000, 0, 500_000, "")


def test_a_file_with_a_refused_row_is_refused_whole(session: Session, tmp_path: Path) -> None:
    world = vn_world(session)
    policy = load_policy(VN_POLICY)
    member = world.person_ids[0]
    stored = {
        c: {"provider_level": "district", "designated": True, "in_area": True, "categories": "registered_poor"}
        for c in ("R-1", "R-2")
    }
    path = write_file(tmp_path / "r.csv", [
        Bill("R-1", member, "PA", dt.date(2024, 8, 1), "outpatient", "J06.9", 0, 500_000, 500_000, False),
        Bill("R-2", member, "PA", dt.date(2024, 8, 2), "dentistry", "J06.9", 0, 500_000, 500_000, False),
    ], stored, 0)  # fmt: skip
    with pytest.raises(ValidationFailed) as refused:
        load(session, policy, path)
    assert "line 3" in refused.value.record and refused.value.field == "care_type"
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_settlements_file_is_no_longer_needed(session: Session, tmp_path: Path) -> None:
    world = vn_world(session)
    policy = load_policy(VN_POLICY)
    bill = Bill(
        "S-1", world.person_ids[0], "PA", dt.date(2024, 8, 1), "outpatient", "J06.9", 0, 500_000, 500_000, False
    )
    stored = {
        "S-1": {"provider_level": "district", "designated": True, "in_area": True, "categories": "registered_poor"}
    }
    path = write_file(tmp_path / "s.csv", [bill], stored, 0)
    with pytest.warns(DeprecationWarning, match="settles the claims itself"):
        report = load_settled_claims(
            session=session, policy=policy, claims_path=path, settlements_path=tmp_path / "absent.csv"
        )
    assert report.claims == 1 and report.deltas == 1


# --------------------------------------------------------------------------------------------
# A synthetic province under the Ya'an policy (year-scope bands, yearly caps, an oop_cap layer)


@pytest.mark.parametrize("split", ["one load", "real time then a load", "two loads"])
def test_a_synthetic_province_loads_as_submitted_one_by_one(
    session: Session, tmp_path: Path, split: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole year in one file; or the first half-year submitted in real time (or loaded) and
    the second half loaded on top of the accumulators the first left: the outpatient pool's
    200.00 cap, the basic insurance's yearly cap and the critical-illness year positions carry over."""
    from equicover.claims.bulk import ensure_policy_version
    from equicover.settlement import batch_engine as batch
    from equicover.synth.parameters import SCHEME_CODE
    from equicover.synth.service import generate

    # the cascade cut into member ranges settled side by side, as for a large file
    monkeypatch.setattr(batch, "PARALLEL_SETTLE_MIN_ROWS", 50)
    monkeypatch.setattr(batch, "_cores", lambda: 3)

    claims_path = tmp_path / "claims.csv"
    generate(people=120, seed=11, year=2018, session=session, claims_path=claims_path)
    policy = load_policy(YAAN_POLICY)
    ensure_policy_version(session=session, policy=policy, scheme_code=SCHEME_CODE)
    # One county hospital loses its contracts: its claims must use up nobody's caps.
    county = session.scalar(select(Provider.id).where(Provider.level == "county").order_by(Provider.id).limit(1))
    session.execute(delete(Contract).where(Contract.provider_id == county))
    session.flush()
    with claims_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    digits = policy.minor_digits
    bills_ = [
        Bill(row["claim_id"], int(row["member_id"]), row["provider_id"], dt.date.fromisoformat(row["service_date"]),
             row["care_type"], row["diagnosis"], int(row["days"]), _minor(row["total"], digits),
             _minor(row["eligible"], digits), row["referred"].lower() in ("true", "1", "yes"))
        for row in rows
    ]  # fmt: skip
    if split == "one load":
        plan = [("bulk", sorted(bills_, key=Bill.settlement_key))]
    else:
        first = sorted((b for b in bills_ if b.on < dt.date(2018, 7, 1)), key=Bill.settlement_key)
        second = sorted((b for b in bills_ if b.on >= dt.date(2018, 7, 1)), key=Bill.settlement_key)
        plan = [("realtime" if split.startswith("real time") else "bulk", first), ("bulk", second)]

    reference = session.begin_nested()
    for _, group in plan:
        for bill in group:
            submit(session, bill, SCHEME_CODE)
    expected = snapshot(session, policy.id)
    stored = as_stored(session)
    reference.rollback()

    reports = []
    for index, (mode, group) in enumerate(plan):
        if mode == "realtime":
            for bill in group:
                submit(session, bill, SCHEME_CODE)
        else:
            reports.append(
                load(session, policy, write_file(tmp_path / f"part-{index}.csv", group, stored, digits), SCHEME_CODE)
            )
    state = snapshot(session, policy.id)
    assert_same(state, expected)
    deltas_sum_to_accumulators(state)
    assert sum(report.claims for report in reports) == sum(len(group) for mode, group in plan if mode == "bulk")
    assert sum(report.zero_outside_contract for report in reports) > 0
    if split != "one load":
        assert reports[-1].seeded_years > 0  # the second half continued from stored accumulators
    assert any(layer == "critical_illness" and value[0] > 0 for (_, layer, _), value in state.accumulators.items())
    capped = [key for key, value in state.accumulators.items() if key[1] == "outpatient_pool" and value[1] == 20_000]
    assert capped  # members who used the whole outpatient pool of 200.00

    # Eligibility shows what each member used of the basic insurance's yearly cap.
    (member, _, year), (_, paid, _) = max(
        ((key, value) for key, value in state.accumulators.items() if key[1] == "basic"), key=lambda item: item[1][1]
    )
    answer = eligibility(session=session, person_id=int(member), on=dt.date(year, 12, 31))
    basic = next(layer for scheme in answer.schemes for layer in scheme.layers if layer.layer_id == "basic")
    assert basic.used == paid > 0 and basic.remaining == basic.annual_cap - paid


def _minor(text: str, digits: int) -> int:
    whole, _, fraction = text.strip().partition(".")
    return int(whole) * 10**digits + int((fraction + "0" * digits)[:digits] or 0)
