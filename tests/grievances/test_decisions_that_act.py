"""What an upheld provider grievance does to the money: a verification finding reversed (its
recovery cancelled, or repaid in the next batch once a batch took it), a payment batch corrected
in the next batch. Each act is a step of the case, in the change log and in the fund ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.admin.service import create_user
from equicover.audit.models import ChangeLog
from equicover.auth.models import User
from equicover.errors import Conflict, ValidationFailed
from equicover.grievances import service
from equicover.grievances.models import GrievanceCase, GrievanceStep
from equicover.ledger import service as ledger
from equicover.payments import service as payments
from equicover.payments.models import PaymentCorrection
from equicover.verification.models import ClaimReview, Recovery
from tests import factories as make
from tests.factories import SchemeYear
from tests.grievances.facility_world import AUGUST, SEPTEMBER, approve_batch, disallowed, draft_batch, facility_year

OCTOBER = (dt.date(2024, 10, 1), dt.date(2024, 10, 31))
DECIDED = dt.date(2024, 9, 25)


@pytest.fixture
def year(session: Session) -> SchemeYear:
    return facility_year(session)


@pytest.fixture
def manager(session: Session) -> User:
    return create_user(
        session=session, username="fund-manager", password="correct horse battery", role="fund_manager", actor="t"
    )


def _disallowed(session: Session, year: SchemeYear, amount: int = 500_000) -> int:
    """PA's August claim of 2,000,000, paid in the August batch, then ``amount`` of it disallowed."""
    review_id, _ = disallowed(session, year, amount)
    return review_id


def _contest(session: Session, category: str, subject_id: int) -> GrievanceCase:
    return service.open_case(
        session=session, category=category, subject_id=subject_id, description="the documents were there",
        opened_on=dt.date(2024, 9, 21), complainant_provider_code="PA", channel="web",
    )  # fmt: skip


def _shi(session: Session) -> dict[str, int]:
    return {balance.account: balance.balance for balance in ledger.balances(session=session, fund_code="shi")}


def test_an_upheld_finding_grievance_cancels_a_recovery_no_batch_took(session: Session, year, manager) -> None:
    review_id = _disallowed(session, year)
    payable_before = ledger.provider_payable(session=session, provider_id=year_provider(session))
    case = _contest(session, "verification_finding", review_id)
    service.decide(session=session, case=case, user=manager, outcome="upheld", reasons="documented", on=DECIDED)
    review = session.get_one(ClaimReview, review_id)
    assert (review.status, review.disallowed) == ("confirmed", 0)
    assert session.scalar(select(func.count()).select_from(Recovery)) == 0
    # The payable owes PA the 500,000 again: the next batch pays September in full.
    assert ledger.provider_payable(session=session, provider_id=year_provider(session)) == payable_before + 500_000
    following = draft_batch(session, SEPTEMBER)
    assert (following.recoveries_amount, following.net_amount) == (0, 800_000)
    steps = session.scalars(
        select(GrievanceStep).where(GrievanceStep.case_id == case.id, GrievanceStep.kind == "action")
    )
    assert [step.amount for step in steps] == [500_000]
    assert (
        session.scalar(
            select(func.count())
            .select_from(ChangeLog)
            .where(ChangeLog.entity == "claim_reviews", ChangeLog.action == "reverse")
        )
        == 1
    )


def test_a_recovery_a_paid_batch_took_is_repaid_in_the_next_batch(session: Session, year, manager) -> None:
    review_id = _disallowed(session, year)
    september = draft_batch(session, SEPTEMBER)
    assert september.net_amount == 800_000 - 500_000
    approve_batch(session, september)
    cash_after_september = _shi(session)["cash"]
    payable_after_september = ledger.provider_payable(session=session, provider_id=year_provider(session))
    case = _contest(session, "verification_finding", review_id)
    service.decide(session=session, case=case, user=manager, outcome="upheld", reasons="documented", on=DECIDED)
    # The recovery stays as history of the September batch; a correction owes PA the 500,000.
    assert session.scalar(select(func.sum(Recovery.amount))) == 500_000
    owed = session.scalars(select(PaymentCorrection)).one()
    assert (owed.amount, owed.fund_code, owed.source, owed.payment_batch_id) == (
        500_000,
        "shi",
        f"grievance {case.id}",
        None,
    )
    october = draft_batch(session, OCTOBER)
    assert (october.claims_amount, october.recoveries_amount, october.net_amount) == (500_000, 0, 500_000)
    approve_batch(session, october)
    # In all the fund paid the 2,800,000 billed: nothing disallowed in the end; what the reversal
    # owed PA is paid, not owed twice.
    assert _shi(session)["cash"] == cash_after_september - 500_000 == -2_800_000
    assert ledger.provider_payable(session=session, provider_id=year_provider(session)) == payable_after_september
    assert draft_batch(session, (dt.date(2024, 11, 1), dt.date(2024, 11, 30))).net_amount == 0


def test_a_finding_held_by_a_draft_batch_is_not_reversed_and_nothing_changes(session: Session, year, manager) -> None:
    review_id = _disallowed(session, year)
    draft = draft_batch(session, SEPTEMBER)
    case = _contest(session, "verification_finding", review_id)
    with pytest.raises(Conflict, match=f"draft payment batch {draft.id}"):
        service.decide(session=session, case=case, user=manager, outcome="upheld", reasons="documented", on=DECIDED)
    assert case.status == "open"
    assert session.get_one(ClaimReview, review_id).disallowed == 500_000


def test_a_rejected_finding_grievance_leaves_the_finding(session: Session, year, manager) -> None:
    review_id = _disallowed(session, year)
    case = _contest(session, "verification_finding", review_id)
    service.decide(session=session, case=case, user=manager, outcome="rejected", reasons="not documented", on=DECIDED)
    assert session.get_one(ClaimReview, review_id).disallowed == 500_000
    assert session.scalar(select(func.count()).select_from(Recovery)) == 1


def test_an_upheld_batch_grievance_pays_the_correction_in_the_next_batch(session: Session, year, manager) -> None:
    member = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    august = draft_batch(session, AUGUST)
    approve_batch(session, august)
    payable_after_august = ledger.provider_payable(session=session, provider_id=year_provider(session))
    case = _contest(session, "payment_batch", august.id)
    with pytest.raises(ValidationFailed) as refused:
        service.decide(session=session, case=case, user=manager, outcome="upheld", reasons="short", on=DECIDED)
    assert refused.value.field == "batch_correction"
    with pytest.raises(ValidationFailed) as unknown_fund:
        service.decide(
            session=session, case=case, user=manager, outcome="upheld", reasons="short", on=DECIDED,
            batch_correction=service.BatchCorrection(120_000, "no-such-fund"),
        )  # fmt: skip
    assert unknown_fund.value.field == "fund_code" and case.status == "open"
    service.decide(
        session=session, case=case, user=manager, outcome="upheld", reasons="a claim was left out", on=DECIDED,
        batch_correction=service.BatchCorrection(120_000, "shi"),
    )  # fmt: skip
    assert case.status == "decided"
    september = draft_batch(session, SEPTEMBER)
    assert (september.claims_amount, september.net_amount) == (120_000, 120_000)
    csv_text = payments.batch_csv(session=session, batch_id=september.id)
    assert f"correction,grievance {case.id}" in csv_text
    remittance = payments.payment_reconciliation(session=session, batch_id=september.id)
    assert remittance["paymentAmount"]["value"] == 120_000
    assert [detail["amount"]["value"] for detail in remittance["detail"]] == [120_000]
    payments.cancel_batch(session=session, batch_id=september.id, actor="maker")
    assert session.scalars(select(PaymentCorrection.payment_batch_id)).all() == [None]
    again = draft_batch(session, SEPTEMBER)
    assert (
        ledger.provider_payable(session=session, provider_id=year_provider(session)) == payable_after_august + 120_000
    )
    approve_batch(session, again)
    assert ledger.provider_payable(session=session, provider_id=year_provider(session)) == payable_after_august
    assert _shi(session)["cash"] == -1_120_000


def test_a_negative_correction_is_deducted(session: Session, year, manager) -> None:
    member = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 3), total=300_000)
    august = draft_batch(session, AUGUST)
    approve_batch(session, august)
    case = _contest(session, "payment_batch", august.id)
    service.decide(
        session=session, case=case, user=manager, outcome="partly_upheld", reasons="paid twice for one day",
        on=DECIDED, batch_correction=service.BatchCorrection(-50_000, "shi"),
    )  # fmt: skip
    september = draft_batch(session, SEPTEMBER)
    assert (september.recoveries_amount, september.net_amount) == (50_000, 250_000)


def year_provider(session: Session) -> int:
    from equicover.providers.models import Provider

    return session.scalars(select(Provider.id).where(Provider.code == "PA")).one()


def test_a_batch_correction_over_http(session_factory, session: Session) -> None:
    from tests.api_helpers import login_as, make_client

    year = facility_year(session)
    member = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    august = draft_batch(session, AUGUST)
    approve_batch(session, august)
    session.commit()
    client = make_client(session_factory=session_factory)
    clerk = login_as(client, "clerk", provider="PA")
    opened = client.post(
        "/api/v1/grievances",
        json={"category": "payment_batch", "subject_id": august.id, "description": "a bill paid short",
              "complainant_provider_code": "PA", "opened_on": "2024-09-21"},
        headers=clerk,
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    manager = login_as(client, "fund_manager")
    url = f"/api/v1/grievances/{opened.json()['id']}/decision"
    decision = {"outcome": "upheld", "reasons": "paid short", "on": "2024-09-25"}
    for wrong, field in (({"correction_amount": 5_000}, "correction_fund"), ({}, "batch_correction")):
        refused = client.post(url, json={**decision, **wrong}, headers=manager)
        assert refused.status_code == 422 and field in refused.text
    decided = client.post(url, json={**decision, "correction_amount": 5_000, "correction_fund": "shi"}, headers=manager)
    assert decided.status_code == 200, decided.text
    assert [(step["kind"], step["amount"]) for step in decided.json()["steps"]][-1] == ("action", 5_000)
    with session_factory() as fresh:
        owed = fresh.scalars(select(PaymentCorrection)).one()
        assert (owed.amount, owed.fund_code) == (5_000, "shi")


def test_an_upheld_category_case_replaces_the_wrong_category(session: Session) -> None:
    from equicover.registry.models import PersonCategory
    from equicover.registry.service import set_category

    world = make.vn_world(session)
    member = world.person_ids[1]
    set_category(session=session, person_id=member, category="near_poor", valid_from=dt.date(2024, 1, 1))
    case = service.open_case(
        session=session, category="category_decision", subject_id=member, description="we are poor, not near-poor",
        opened_on=dt.date(2024, 10, 1), complainant_person_id=member,
    )  # fmt: skip
    registrar = create_user(
        session=session, username="registrar-lc", password="correct horse battery", role="registrar", area_code="LC"
    )
    corrected_from = dt.date(2024, 10, 10)
    with pytest.raises(ValidationFailed) as refused:
        service.decide(
            session=session, case=case, user=registrar, outcome="upheld", reasons="survey re-scored", on=corrected_from,
            correction=service.CategoryCorrection("registered_poor", corrected_from, replaces="vulnerable"),
        )  # fmt: skip
    assert refused.value.field == "replaces" and case.status == "open"
    # The wrong category ended, then the new one refused (it overlaps one held): the end is undone too.
    set_category(session=session, person_id=member, category="elderly", valid_from=dt.date(2024, 1, 1))
    with pytest.raises(Conflict):
        service.decide(
            session=session, case=case, user=registrar, outcome="upheld", reasons="survey re-scored", on=corrected_from,
            correction=service.CategoryCorrection("elderly", corrected_from, replaces="near_poor"),
        )  # fmt: skip
    assert case.status == "open"
    assert (
        session.scalars(
            select(PersonCategory.valid_to).where(
                PersonCategory.person_id == member, PersonCategory.category == "near_poor"
            )
        ).one()
        is None
    )
    service.decide(
        session=session, case=case, user=registrar, outcome="upheld", reasons="survey re-scored", on=corrected_from,
        correction=service.CategoryCorrection(
            "registered_poor", corrected_from, valid_to=dt.date(2026, 12, 31), replaces="near_poor"
        ),
    )  # fmt: skip
    holdings = {
        row.category: (row.valid_from, row.valid_to, row.source)
        for row in session.scalars(select(PersonCategory).where(PersonCategory.person_id == member))
    }
    assert holdings["near_poor"][1] == corrected_from - dt.timedelta(days=1)
    assert holdings["registered_poor"] == (corrected_from, dt.date(2026, 12, 31), f"grievance {case.id}")
    acts = session.scalars(
        select(GrievanceStep).where(GrievanceStep.case_id == case.id, GrievanceStep.kind == "action")
    ).all()
    assert len(acts) == 2 and all(step.person_category_id for step in acts)


def test_a_correction_from_a_fund_in_other_money_is_refused(session: Session, year, manager) -> None:
    """The amount of a batch correction is counted in the contested batch's money: a fund keeping
    its books in another currency is refused at the decision, and a correction of other money
    already due stops the next batch instead of being added to its amounts."""
    ledger.ensure_fund(session=session, code="usd-relief", name="Relief (USD)", currency="USD", minor_digits=2)
    member = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    august = draft_batch(session, AUGUST)
    approve_batch(session, august)
    case = _contest(session, "payment_batch", august.id)
    with pytest.raises(ValidationFailed) as other_money:
        service.decide(
            session=session, case=case, user=manager, outcome="upheld", reasons="a claim was left out", on=DECIDED,
            batch_correction=service.BatchCorrection(120_000, "usd-relief"),
        )  # fmt: skip
    assert other_money.value.field == "fund_code" and "keeps its books in USD" in other_money.value.reason
    assert case.status == "open" and session.scalar(select(func.count()).select_from(PaymentCorrection)) == 0
    from equicover.payments import corrections

    corrections.record_correction(
        session=session, provider_id=year_provider(session), fund_code="usd-relief", amount=5_000,
        source="a decision of the fund", on=DECIDED,
    )  # fmt: skip
    with pytest.raises(Conflict) as mixed:
        draft_batch(session, SEPTEMBER)
    assert mixed.value.field == "corrections" and "usd-relief" in mixed.value.reason
