"""The claims service on both databases: settlement from stored records, idempotency, zero
payments with a reason, reversal restoring accumulators, policy versions."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.audit.models import ChangeLog
from equicover.claims import service
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, StoredAccumulator
from equicover.claims.schemas import ClaimIn
from equicover.errors import Conflict, Forbidden, ValidationFailed
from equicover.settlement import model
from equicover.settlement.loader import load_policy
from equicover.settlement.realtime_engine import settle_claims
from tests import factories as make
from tests.factories import POLICIES, vn_world

DAY = dt.date(2024, 9, 2)


def claim(
    person_id: int, claim_id: str, *, provider: str = "PA", total: int = 2_000_000, day: dt.date = DAY, **extra: object
) -> ClaimIn:
    """An in-patient stay of three days for pneumonia (J18.9), unless told otherwise."""
    fields: dict[str, object] = dict(care_type="inpatient", diagnosis="J18.9", days=3)
    fields.update(extra)
    return make.claim_in(
        claim_id=claim_id, person_id=person_id, provider_code=provider, service_date=day, total=total, **fields
    )


def _accumulators(session, member: int) -> dict[str, tuple[int, int, int]]:
    return {
        row.layer_id: (row.position, row.paid, row.member_share)
        for row in session.scalars(select(StoredAccumulator).where(StoredAccumulator.member_id == str(member)))
    }


def test_submit_settles_from_stored_records_like_the_engine(session) -> None:
    world = vn_world(session)
    poor, plain = world.person_ids[0], world.person_ids[1]
    row, created = service.submit_claim(session=session, claim=claim(poor, "C-1"), actor="clerk-a")
    assert created and row.zero_reason is None and row.status == "settled"
    assert row.categories == "registered_poor" and row.in_area is True and row.provider_level == "district"
    # The same claim through the in-memory engine gives the same split.
    policy = load_policy(POLICIES / "vn-shi-2024.toml")
    engine_claim = model.Claim(
        claim_id="C-1",
        member_id=str(poor),
        service_date=DAY,
        provider_id="PA",
        provider_level="district",
        designated=True,
        in_area=True,
        referred=False,
        care_type="inpatient",
        diagnosis="J18.9",
        days=3,
        total=2_000_000,
        eligible=2_000_000,
        categories=frozenset({"registered_poor"}),
    )
    [expected] = settle_claims(policy, [engine_claim])
    assert (row.allowed, row.provider_writeoff, row.member_oop, row.trail) == (
        expected.allowed,
        expected.provider_writeoff,
        expected.member_oop,
        expected.trail,
    )
    payments = {p.item_id: p.amount for p in service.payments_of(session=session, claim_pk=row.id) if p.kind == "layer"}
    assert payments == expected.paid
    # A member of the 80% group pays more for the same bill.
    other, _ = service.submit_claim(session=session, claim=claim(plain, "C-2"), actor="clerk-a")
    assert other.member_oop > row.member_oop
    # A district hospital of another district of the province is on route under Viet Nam's rule
    # (the policy's [area]: the province's commune and district facilities).
    far, _ = service.submit_claim(session=session, claim=claim(plain, "C-3", provider="PB"), actor="clerk-b")
    assert far.in_area is True


def test_second_submission_returns_the_first_result_and_pays_nothing_twice(session) -> None:
    world = vn_world(session)
    member = world.person_ids[0]
    first, created = service.submit_claim(session=session, claim=claim(member, "DUP-1"), actor="a")
    before = _accumulators(session, member)
    again, created_again = service.submit_claim(
        session=session, claim=claim(member, "DUP-1", total=9_999_999), actor="b"
    )
    assert created and not created_again
    assert again.id == first.id and again.total == 2_000_000
    assert _accumulators(session, member) == before
    assert session.scalar(select(ClaimPayment.id).where(ClaimPayment.claim_pk != first.id)) is None
    assert len(session.scalars(select(Claim)).all()) == 1


def test_another_facility_has_its_own_bill_numbers_and_cannot_submit_for_a_foreign_provider(session) -> None:
    world = vn_world(session)
    member = world.person_ids[0]
    first, _ = service.submit_claim(
        session=session, claim=claim(member, "F-1"), actor="a", only_provider_id=world.provider_a
    )
    # The same bill number at another facility is another bill: stored, not A's answered back.
    other, created = service.submit_claim(
        session=session, claim=claim(member, "F-1", provider="PB"), actor="b", only_provider_id=world.provider_b
    )
    assert created and other.id != first.id and other.provider_id == world.provider_b
    assert len(session.scalars(select(Claim).where(Claim.claim_id == "F-1")).all()) == 2
    with pytest.raises(Forbidden):
        service.submit_claim(
            session=session, claim=claim(member, "F-2", provider="PA"), actor="b", only_provider_id=world.provider_b
        )


@pytest.mark.parametrize(
    ("who", "provider", "day", "reason"),
    [
        (2, "PA", DAY, "not_covered"),  # third member of H1 is not enrolled
        (0, "PC", DAY, "no_contract"),  # PC has no contract
    ],
)
def test_not_covered_claims_are_stored_with_zero_payments_and_a_reason(session, who, provider, day, reason) -> None:
    world = vn_world(session)
    member = world.person_ids[who]
    row, created = service.submit_claim(
        session=session, claim=claim(member, f"Z-{who}-{provider}", provider=provider, day=day), actor="a"
    )
    assert created and row.zero_reason == reason
    assert row.member_oop == row.total and row.allowed == row.total
    assert service.payments_of(session=session, claim_pk=row.id) == []
    assert _accumulators(session, member) == {}


def test_a_date_after_the_schemes_policy_ended_is_refused_and_nothing_stored(session) -> None:
    world = vn_world(session)
    member = world.person_ids[0]
    with pytest.raises(ValidationFailed) as refused:
        service.submit_claim(session=session, claim=claim(member, "Z-after", day=dt.date(2025, 8, 1)), actor="a")
    assert (refused.value.field, refused.value.reason) == ("service_date", service.NO_POLICY_ON_DATE)
    assert session.scalars(select(Claim)).all() == []
    assert _accumulators(session, member) == {}


def test_bad_claims_are_refused(session) -> None:
    world = vn_world(session)
    member = world.person_ids[0]
    with pytest.raises(ValidationFailed) as unknown_person:
        service.submit_claim(session=session, claim=claim(99_999, "B-1"), actor="a")
    assert unknown_person.value.field == "person_id"
    with pytest.raises(ValidationFailed):
        service.submit_claim(session=session, claim=claim(member, "B-2", provider="NOPE"), actor="a")
    with pytest.raises(ValidationFailed) as care:
        service.submit_claim(session=session, claim=claim(member, "B-3", care_type="dental"), actor="a")
    assert care.value.field == "care_type"
    with pytest.raises(ValidationFailed):
        service.submit_claim(session=session, claim=claim(member, "B-4", day=dt.date(1970, 1, 1)), actor="a")
    with pytest.raises(ValueError, match="eligible must not exceed total"):
        claim(member, "B-5", total=10, eligible=11)


def test_reversal_restores_the_accumulators_and_is_audited(session) -> None:
    world = vn_world(session)
    member = world.person_ids[1]
    service.submit_claim(session=session, claim=claim(member, "R-1", total=30_000_000), actor="a")
    after_first = _accumulators(session, member)
    service.submit_claim(
        session=session, claim=claim(member, "R-2", total=40_000_000, day=DAY + dt.timedelta(days=5)), actor="a"
    )
    reversed_row = service.reverse_claim(session=session, claim_id="R-2", reason="duplicate bill", actor="verifier-1")
    assert reversed_row.status == "reversed" and reversed_row.reversal_reason == "duplicate bill"
    assert _accumulators(session, member) == after_first
    with pytest.raises(Conflict):
        service.reverse_claim(session=session, claim_id="R-2", reason="again", actor="verifier-1")
    actions = [
        (row.actor, row.action)
        for row in session.scalars(select(ChangeLog).where(ChangeLog.entity == "claims").order_by(ChangeLog.id))
    ]
    assert actions == [("a", "submit"), ("a", "submit"), ("verifier-1", "reverse")]
    assert (
        session.scalar(select(ClaimAccumulatorDelta.id).where(ClaimAccumulatorDelta.claim_pk == reversed_row.id))
        is not None
    )
    # Reversing everything brings every accumulator back to zero.
    service.reverse_claim(session=session, claim_id="R-1", reason="void", actor="verifier-1")
    assert all(values == (0, 0, 0) for values in _accumulators(session, member).values())


def test_policy_versions_refuse_overlaps_and_bad_files(session) -> None:
    world = vn_world(session)
    text = (POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8")
    with pytest.raises(Conflict) as overlap:
        service.store_policy_version(session=session, source_text=text, scheme_code="VN-SHI", actor="admin")
    assert "overlaps" in overlap.value.reason
    with pytest.raises(ValidationFailed):
        service.store_policy_version(session=session, source_text=text, scheme_code="NOPE", actor="admin")
    from equicover.settlement.loader import PolicyError

    with pytest.raises(PolicyError):
        service.store_policy_version(
            session=session, source_text="[policy]\nid = 1\n", scheme_code="VN-SHI", actor="admin"
        )
    later = text.replace("effective_from = 2024-07-01", "effective_from = 2025-07-01").replace(
        "effective_to = 2025-06-30", "effective_to = 2026-06-30"
    )
    version = service.store_policy_version(session=session, source_text=later, scheme_code="VN-SHI", actor="admin")
    rows, total = service.list_policy_versions(session=session, scheme_code="VN-SHI")
    assert total == 2 and [row.effective_from for row in rows] == [dt.date(2024, 7, 1), dt.date(2025, 7, 1)]
    assert service.policy_in_force(session=session, scheme_id=world.scheme_id, on=dt.date(2025, 8, 1)).id == version.id


def test_eligibility_shows_schemes_layers_and_what_is_left(session) -> None:
    world = vn_world(session)
    member = world.person_ids[1]
    before = service.eligibility(session=session, person_id=member, on=DAY)
    assert before.covered and [s.scheme_code for s in before.schemes] == ["VN-SHI"]
    cap_layer = next(layer for layer in before.schemes[0].layers if layer.annual_cap is not None)
    assert cap_layer.used == 0 and cap_layer.remaining == cap_layer.annual_cap
    service.submit_claim(session=session, claim=claim(member, "E-1", total=30_000_000), actor="a")
    after = service.eligibility(session=session, person_id=member, on=DAY)
    cap_after = next(layer for layer in after.schemes[0].layers if layer.layer_id == cap_layer.layer_id)
    assert cap_after.used > 0 and cap_after.remaining == cap_after.annual_cap - cap_after.used
    not_enrolled = service.eligibility(session=session, person_id=world.person_ids[2], on=DAY)
    assert not not_enrolled.covered and not_enrolled.schemes == []


def test_a_service_the_contract_does_not_designate_is_paid_nothing_with_its_reason(session) -> None:
    """The rule of contract enforcement (providers.service.designates) holds in real time as in
    bulk loads: a contract listing its services (care types, ICD-10 prefixes) pays only those."""
    from equicover.providers.models import Contract

    world = vn_world(session)
    session.execute(
        Contract.__table__.update()
        .where(Contract.provider_id == world.provider_a)
        .values(designated_services="inpatient;K35")
    )
    member = world.person_ids[0]
    inpatient, _ = service.submit_claim(session=session, claim=claim(member, "D-1"), actor="a")
    outpatient, _ = service.submit_claim(
        session=session, claim=claim(member, "D-2", care_type="outpatient", days=0), actor="a"
    )
    appendix, _ = service.submit_claim(
        session=session, claim=claim(member, "D-3", care_type="outpatient", diagnosis="K35.8", days=0), actor="a"
    )
    elsewhere, _ = service.submit_claim(
        session=session, claim=claim(member, "D-4", care_type="outpatient", provider="PB", days=0), actor="a"
    )
    assert inpatient.zero_reason is None and inpatient.member_oop < inpatient.total
    assert outpatient.zero_reason == "service_not_designated" and outpatient.member_oop == outpatient.total
    assert service.payments_of(session=session, claim_pk=outpatient.id) == []
    assert appendix.zero_reason is None  # designated by its ICD-10 prefix
    assert elsewhere.zero_reason is None  # PB's contract lists no services: it covers them all
