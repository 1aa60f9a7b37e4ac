"""Contract enforcement (real-time service, bulk path, designated services) and the bulk loader.

The accumulators the bulk loader writes are tested against the real-time service in
``test_bulk_accumulators.py``."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from equicover.claims.bulk import load_settled_claims
from equicover.claims.models import Claim, ClaimPayment
from equicover.errors import ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.providers.schemas import ContractIn
from equicover.providers.service import (
    NO_CONTRACT,
    SERVICE_NOT_DESIGNATED,
    contract_on,
    contract_refusal,
    sign_contract,
)
from equicover.settlement.loader import load_policy
from tests.factories import vn_claims_world

POLICY = Path(__file__).resolve().parents[2] / "policies" / "cn-yaan-2018.toml"


def test_realtime_claim_outside_contract_is_paid_nothing(session) -> None:
    world = vn_claims_world(session)
    claim = session.get(Claim, world.claim_pks["C-OP0"])
    assert claim.zero_reason == NO_CONTRACT and claim.member_oop == claim.allowed
    assert not session.scalar(select(func.sum(ClaimPayment.amount)).where(ClaimPayment.claim_pk == claim.id))


def test_contract_in_force_and_designated_services(session) -> None:
    world = vn_claims_world(session)
    on = dt.date(2024, 8, 1)
    assert contract_on(session=session, scheme_id=world.scheme_id, provider_id=world.provider_c, on=on) is None
    sign_contract(
        session=session,
        contract=ContractIn(
            scheme_code="VN-SHI",
            provider_code="PC",
            starts=on,
            ends=dt.date(2024, 12, 31),
            payment_method="fixed_fee",
            designated_services="inpatient; K35; O80",
        ),
    )
    refusal = lambda care, icd, day=on: contract_refusal(  # noqa: E731
        session=session,
        scheme_id=world.scheme_id,
        provider_id=world.provider_c,
        on=day,
        care_type=care,
        diagnosis=icd,
    )
    assert refusal("inpatient", "J18.9") is None
    assert refusal("outpatient", "K35.8") is None  # a designated disease, whatever the care type
    assert refusal("outpatient", "J06.9") == SERVICE_NOT_DESIGNATED
    assert refusal("inpatient", "J18.9", dt.date(2025, 1, 1)) == NO_CONTRACT


def test_bulk_load_of_a_province(session, tmp_path: Path) -> None:
    from equicover.synth.service import generate

    claims_path = tmp_path / "claims.csv"
    generate(people=400, seed=5, year=2018, session=session, claims_path=claims_path)
    policy = load_policy(POLICY)
    # Take one provider's contracts away: its claims must be stored with zero payments.
    provider_id = session.scalar(select(Provider.id).where(Provider.level == "county").order_by(Provider.id).limit(1))
    for contract in session.scalars(select(Contract).where(Contract.provider_id == provider_id)):
        session.delete(contract)
    # Another county hospital is contracted for in-patient care only.
    inpatient_only = session.scalar(
        select(Provider.id).where(Provider.level == "county", Provider.id != provider_id).order_by(Provider.id).limit(1)
    )
    for contract in session.scalars(select(Contract).where(Contract.provider_id == inpatient_only)):
        contract.designated_services = "inpatient"
    session.flush()
    with claims_path.open() as handle:
        rows = list(csv.DictReader(handle))
    code = session.get(Provider, provider_id).code
    expected_zero = sum(1 for row in rows if row["provider_id"] == code)
    other_code = session.get(Provider, inpatient_only).code
    expected_not_designated = sum(
        1 for row in rows if row["provider_id"] == other_code and row["care_type"] != "inpatient"
    )
    report = load_settled_claims(
        session=session,
        policy=policy,
        claims_path=claims_path,
        scheme_code="urban-rural-resident-bmi",
        synthetic_submission=True,
    )
    assert report.claims == len(rows) and report.payments == len(rows) * len(policy.layers)
    assert report.zero_outside_contract >= expected_zero + expected_not_designated
    assert expected_zero > 0 and expected_not_designated > 0
    not_designated = session.scalar(
        select(func.count()).select_from(Claim).where(Claim.zero_reason == SERVICE_NOT_DESIGNATED)
    )
    assert not_designated == expected_not_designated
    stored = session.scalar(select(func.count()).select_from(Claim))
    assert stored == len(rows)
    zeroed = session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.provider_id == provider_id, Claim.zero_reason == NO_CONTRACT)
    )
    assert zeroed == expected_zero
    paid_zeroed = session.scalar(
        select(func.sum(ClaimPayment.amount))
        .join(Claim, Claim.id == ClaimPayment.claim_pk)
        .where(Claim.zero_reason.is_not(None))
    )
    assert paid_zeroed == 0
    # Money is exact: payers + member = allowed on every claim that had a contract.
    bad = session.execute(
        select(Claim.id)
        .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
        .group_by(Claim.id, Claim.allowed, Claim.member_oop)
        .having(func.sum(ClaimPayment.amount) + Claim.member_oop != Claim.allowed)
    ).all()
    assert bad == []
    # Synthetic submissions: 0-14 days after discharge, read back as datetimes by the ORM.
    for claim in session.scalars(select(Claim).order_by(Claim.id).limit(50)):
        assert 0 <= (claim.submitted_at.date() - claim.service_date).days - claim.days < 15
    with pytest.raises(ValidationFailed):
        load_settled_claims(session=session, policy=policy, claims_path=claims_path)  # the claim ids are stored
