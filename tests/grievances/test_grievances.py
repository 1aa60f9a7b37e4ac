"""Grievances: opened about one record, decided by a handler of its area, acting, appealed once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.admin.service import create_user
from equicover.audit.models import ChangeLog
from equicover.auth.models import User
from equicover.claims.adjustments import current_amounts
from equicover.claims.models import Claim, ClaimAdjustment
from equicover.errors import Conflict, Forbidden, ValidationFailed
from equicover.grievances import service
from equicover.grievances.models import GrievanceCase, GrievanceStep
from equicover.grievances.rules import grievance_rules
from equicover.registry.models import PersonCategory
from tests import factories as make

OPENED = dt.date(2024, 10, 1)
PASSWORD = "correct horse battery"


def _user(session: Session, name: str, role: str, area: str | None = None) -> User:
    return create_user(session=session, username=name, password=PASSWORD, role=role, area_code=area, actor="test")


def _overcharge(session: Session, world: make.ClaimsWorld) -> GrievanceCase:
    """Member two says PA charged her the whole of her share of A-OP0 for care the fund covers."""
    return service.open_case(
        session=session,
        category="overcharged",
        subject_id=world.claim_pks["A-OP0"],
        description="asked to pay at the counter",
        opened_on=OPENED,
        channel="phone",
        complainant_person_id=world.person_ids[1],
        complainant_contact="+84 20 0000 0000",
        actor="clerk-pa",
    )


def test_a_case_takes_its_area_handler_and_deadline_from_its_record_and_category(session: Session) -> None:
    world = make.vn_claims_world(session)
    case = _overcharge(session, world)
    assert (case.subject_kind, case.provider_id, case.handler_role, case.level) == (
        "claim",
        world.provider_a,
        "verifier",
        1,
    )
    assert case.deadline == OPENED + dt.timedelta(days=grievance_rules().categories["overcharged"].days)
    logged = session.scalars(select(ChangeLog).where(ChangeLog.entity == "grievance_cases")).one()
    assert logged.after is not None
    assert "+84" not in str(logged.after) and "counter" not in str(logged.after)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category": "weather"}, "category"),
        ({"complainant_person_id": "poor"}, "subject_id"),  # A-OP0 is member two's bill
        ({"complainant_person_id": None, "complainant_provider_code": "PA"}, "complainant_person_id"),
        ({"subject_id": 2**31 - 1}, "subject_id"),
        ({"description": " "}, "description"),
        ({"channel": "fax"}, "channel"),
    ],
)
def test_bad_cases_are_refused_with_the_field(session: Session, changes: dict[str, object], field: str) -> None:
    world = make.vn_claims_world(session)
    fields: dict[str, object] = dict(
        category="overcharged",
        subject_id=world.claim_pks["A-OP0"],
        description="asked to pay",
        opened_on=OPENED,
        complainant_person_id=world.person_ids[1],
    )
    fields.update(changes)
    if fields["complainant_person_id"] == "poor":
        fields["complainant_person_id"] = world.person_ids[0]
    with pytest.raises(ValidationFailed) as refused:
        service.open_case(session=session, **fields)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert session.scalar(select(func.count()).select_from(GrievanceCase)) == 0


def test_only_a_handler_of_the_case_area_decides_and_a_refusal_changes_nothing(session: Session) -> None:
    world = make.vn_claims_world(session)
    case = _overcharge(session, world)
    elsewhere = _user(session, "verifier-d2", "verifier", "D2")
    registrar = _user(session, "registrar-d1", "registrar", "D1")
    with pytest.raises(Forbidden, match="outside your area"):
        service.decide(session=session, case=case, user=elsewhere, outcome="upheld", reasons="r", on=OPENED)
    with pytest.raises(Forbidden, match="handled by a verifier"):
        service.decide(session=session, case=case, user=registrar, outcome="upheld", reasons="r", on=OPENED)
    verifier = _user(session, "verifier-d1", "verifier", "D1")
    with pytest.raises(ValidationFailed, match="at most the member's share"):
        service.decide(
            session=session,
            case=case,
            user=verifier,
            outcome="upheld",
            reasons="the counter took more than the settlement",
            on=OPENED,
            refund=service.Refund(10_000_000, "shi"),
        )
    assert (case.status, case.outcome) == ("open", None)
    assert session.scalar(select(func.count()).select_from(ClaimAdjustment)) == 0


def test_an_upheld_overcharge_refunds_the_member_through_the_claims_adjustments(session: Session) -> None:
    world = make.vn_claims_world(session)
    case = _overcharge(session, world)
    verifier = _user(session, "verifier-d1", "verifier", "D1")
    claim = session.get(Claim, world.claim_pks["A-OP0"])
    assert claim is not None
    before = current_amounts(session=session, claims=[claim])[claim.id]
    assert before[("member", "member")][1] == 80_000  # 400,000 at 80%
    service.decide(
        session=session,
        case=case,
        user=verifier,
        outcome="upheld",
        reasons="the visit was on route: the fund pays it all",
        on=OPENED + dt.timedelta(days=3),
        refund=service.Refund(80_000, "shi"),
    )
    after = current_amounts(session=session, claims=[claim])[claim.id]
    assert after[("member", "member")][1] == 0
    assert after[("layer", "shi")][1] == before[("layer", "shi")][1] + 80_000
    lines = session.scalars(select(ClaimAdjustment).where(ClaimAdjustment.claim_pk == claim.id)).all()
    assert sorted((line.reason, line.amount) for line in lines) == [
        ("member_refund", -80_000),
        ("payer_top_up", 80_000),
    ]
    acted = session.scalars(
        select(GrievanceStep.claim_adjustment_id).where(
            GrievanceStep.case_id == case.id, GrievanceStep.kind == "action"
        )
    ).all()
    assert sorted(acted) == sorted(line.id for line in lines)
    assert (case.status, case.outcome, case.decided_by) == ("decided", "upheld", "verifier-d1")
    with pytest.raises(Conflict, match="decided"):
        service.decide(session=session, case=case, user=verifier, outcome="rejected", reasons="again", on=OPENED)


def test_an_upheld_category_case_corrects_the_category_in_the_registry(session: Session) -> None:
    world = make.vn_world(session)
    child = world.person_ids[2]
    case = service.open_case(
        session=session,
        category="category_decision",
        subject_id=child,
        description="the household's income fell",
        opened_on=OPENED,
        complainant_person_id=child,
    )
    registrar = _user(session, "registrar-lc", "registrar", "LC")
    service.decide(
        session=session,
        case=case,
        user=registrar,
        outcome="upheld",
        reasons="income below the near-poor line",
        on=OPENED,
        correction=service.CategoryCorrection("near_poor", OPENED),
    )
    held = session.scalars(select(PersonCategory).where(PersonCategory.person_id == child)).one()
    assert (held.category, held.valid_from, held.source) == ("near_poor", OPENED, f"grievance {case.id}")


def test_one_appeal_goes_to_the_province_with_its_own_deadline(session: Session) -> None:
    world = make.vn_claims_world(session)
    case = _overcharge(session, world)
    with pytest.raises(Conflict, match="only a decided case"):
        service.appeal(session=session, case=case, description="no answer", on=OPENED)
    verifier = _user(session, "verifier-d1", "verifier", "D1")
    service.decide(session=session, case=case, user=verifier, outcome="rejected", reasons="paid as due", on=OPENED)
    appealed = service.appeal(session=session, case=case, description="I disagree", on=OPENED + dt.timedelta(days=2))
    assert (appealed.level, appealed.appeal_of_id, appealed.handler_role) == (2, case.id, "verifier")
    assert appealed.deadline == OPENED + dt.timedelta(days=2 + grievance_rules().appeal_days)
    from equicover.registry.models import Location

    assert session.get(Location, appealed.location_id).code == "LC"  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="one appeal only"):
        service.appeal(session=session, case=case, description="again", on=OPENED + dt.timedelta(days=3))
    # The district's verifier does not hear the appeal; the province's does.
    with pytest.raises(Forbidden, match="outside your area"):
        service.decide(session=session, case=appealed, user=verifier, outcome="rejected", reasons="r", on=OPENED)
    provincial = _user(session, "verifier-lc", "verifier", "LC")
    service.decide(
        session=session, case=appealed, user=provincial, outcome="rejected", reasons="r", on=OPENED + dt.timedelta(5)
    )
    with pytest.raises(Conflict, match="one appeal only"):
        service.appeal(session=session, case=appealed, description="and again", on=OPENED + dt.timedelta(days=9))


def test_open_and_overdue_cases_are_listed_in_the_readers_area(session: Session) -> None:
    world = make.vn_claims_world(session)
    late = _overcharge(session, world)
    fresh = service.open_case(
        session=session,
        category="refused_bill",
        subject_id=world.claim_pks["B-OP0"],
        description="refused",
        opened_on=OPENED + dt.timedelta(days=20),
        complainant_person_id=world.other_person_id,
    )
    today = OPENED + dt.timedelta(days=25)
    everyone = _user(session, "manager", "fund_manager")
    d1 = _user(session, "verifier-d1", "verifier", "D1")

    def listed(user: User, **filters: object) -> list[int]:
        return [case.id for case in session.scalars(service.cases_query(user=user, today=today, **filters))]  # type: ignore[arg-type]

    assert listed(everyone, status="open") == [late.id, fresh.id]
    assert listed(everyone, overdue=True) == [late.id]  # 15 days for an overcharge; 30 for a refused bill
    assert listed(d1) == [late.id]
    assert listed(everyone, provider_id=world.provider_b) == [fresh.id]
