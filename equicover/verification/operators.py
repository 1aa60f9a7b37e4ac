"""Verification of Health Equity Fund operators, beside the verification of providers.

The fund verifies the contracted providers and the NGOs that run the HEF in each operational
district (seed 001). An operator's acts in a period are:

- its **hospital post-identifications** (``targeting_hospital_cases`` granted or confirmed at a
  facility of its districts): at stake, what the funds paid on the identified household's claims
  at that facility during the stay's eligibility;
- the **benefits it paid** to patients (the policy's allowances, transport and food in kh-hef):
  each allowance payment on a claim served at a facility of its districts.

:func:`draw_operator_sample` draws acts at random (same data + same seed = same sample; every act
can be drawn); :func:`decide_operator_review` records the verifier's finding (justified, or not
justified with an amount disallowed and a reason). A disallowance becomes recoveries per fund,
in proportion to what each fund paid on the act, posted in the fund ledger (the cost moves from
the benefit or provider payment to the operator's fee: Dr administration, Cr the use it was
booked to) and deducted from the next payment to the operator (:func:`deduct_operator_recoveries`).
:func:`operator_scorecards` sums each operator's acts and findings.

Keyword-only, never commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims import service as claims_service
from equicover.claims.models import Claim, ClaimPayment
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.organisations import service as organisations
from equicover.providers.models import Provider
from equicover.registry.models import Location, Person
from equicover.targeting.models import TargetingHospitalCase
from equicover.verification.models import OperatorRecovery, OperatorReview
from equicover.verification.service import split_recovery

OPERATOR_ROLE = "hef_operator"
FINDINGS = ("justified", "not_justified")
# A post-identification that granted a stay (the others paid nothing).
GRANTING_CASES = ("granted", "confirmed")
ADMINISTRATION = "administration"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# A query of any columns, narrowed by the helpers below and returned with its columns.
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def _in_areas(areas: list[int]) -> Any:
    return or_(Location.id.in_(areas), Location.district_id.in_(areas))


def _stay_payments(session: Session, case: TargetingHospitalCase) -> list[tuple[str, str, int, int]]:
    """(fund, use account, claim pk, amount) of what the funds paid on the household's claims at the
    case's facility during the stay's eligibility."""
    last_day = case.valid_to or case.admitted_on
    rows = session.execute(
        select(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, ClaimPayment.claim_pk, ClaimPayment.amount)
        .join(Claim, Claim.id == ClaimPayment.claim_pk)
        .join(Person, Person.id == Claim.person_id)
        .where(
            Person.household_id == case.household_id,
            Claim.provider_id == case.provider_id,
            Claim.status == "settled",
            Claim.service_date >= case.admitted_on,
            Claim.service_date <= last_day,
            ClaimPayment.amount > 0,
        )
        .order_by(ClaimPayment.id)
    ).all()
    return [
        (
            ledger.fund_code_of_payment(kind, item, payer),
            ledger.PROVIDER_PAYMENTS if kind == "layer" else ledger.ALLOWANCES,
            int(claim_pk),
            int(amount),
        )
        for kind, item, payer, claim_pk, amount in rows
    ]


def _case_candidates(
    session: Session, areas: list[int], starts: dt.date, ends: dt.date
) -> list[tuple[int, int | None, dt.date]]:
    reviewed = select(OperatorReview.hospital_case_id).where(OperatorReview.hospital_case_id.is_not(None))
    query = select(TargetingHospitalCase.id, TargetingHospitalCase.provider_id, TargetingHospitalCase.admitted_on)
    return [
        (int(case_id), provider_id, admitted_on)
        for case_id, provider_id, admitted_on in session.execute(
            _operator_cases(query, areas, starts, ends)
            .where(TargetingHospitalCase.id.not_in(reviewed))
            .order_by(TargetingHospitalCase.id)
        ).all()
    ]


def _operator_cases(query: _Query, areas: list[int], starts: dt.date, ends: dt.date) -> _Query:
    """``query`` narrowed to the post-identifications granted in the operator's areas in the period."""
    return (
        query.join(Provider, Provider.id == TargetingHospitalCase.provider_id)
        .join(Location, Location.id == Provider.location_id)
        .where(
            _in_areas(areas),
            TargetingHospitalCase.status.in_(GRANTING_CASES),
            TargetingHospitalCase.admitted_on >= starts,
            TargetingHospitalCase.admitted_on <= ends,
        )
    )


def _operator_benefits(query: _Query, areas: list[int], starts: dt.date, ends: dt.date) -> _Query:
    """``query`` narrowed to the allowances paid on settled claims of the operator's areas in the period."""
    return (
        query.join(Claim, Claim.id == ClaimPayment.claim_pk)
        .join(Provider, Provider.id == Claim.provider_id)
        .join(Location, Location.id == Provider.location_id)
        .where(
            _in_areas(areas),
            ClaimPayment.kind == "allowance",
            ClaimPayment.amount > 0,
            Claim.status == "settled",
            Claim.service_date >= starts,
            Claim.service_date <= ends,
        )
    )


def _benefit_candidates(
    session: Session, areas: list[int], starts: dt.date, ends: dt.date
) -> list[tuple[int, int, dt.date, int]]:
    reviewed = select(OperatorReview.claim_payment_id).where(OperatorReview.claim_payment_id.is_not(None))
    query = select(ClaimPayment.id, Claim.provider_id, Claim.service_date, ClaimPayment.amount)
    return [
        (int(payment_id), int(provider_id), served, int(amount))
        for payment_id, provider_id, served, amount in session.execute(
            _operator_benefits(query, areas, starts, ends)
            .where(ClaimPayment.id.not_in(reviewed))
            .order_by(ClaimPayment.id)
        ).all()
    ]


def _draw(generator: np.random.Generator, population: int, wanted: int) -> list[int]:
    if not population or not wanted:
        return []
    return sorted(generator.choice(population, size=min(wanted, population), replace=False).tolist())


def draw_operator_sample(
    *,
    session: Session,
    organisation_code: str,
    period_starts: dt.date,
    period_ends: dt.date,
    cases: int,
    benefits: int,
    seed: int,
    actor: str = SYSTEM_ACTOR,
) -> list[OperatorReview]:
    """Draw up to ``cases`` hospital post-identifications and ``benefits`` benefit payments of the
    operator in the period, not reviewed before, uniformly at random."""
    record = f"operator sample {organisation_code}"
    if period_ends < period_starts:
        raise ValidationFailed(record, "period_ends", "is before period_starts")
    if cases < 0 or benefits < 0 or cases + benefits == 0:
        raise ValidationFailed(record, "cases", "ask for at least one act, no negative counts")
    organisation = organisations.get_organisation(session=session, code=organisation_code, role=OPERATOR_ROLE)
    areas = organisations.area_ids(session=session, organisation_id=organisation.id)
    if not areas:
        raise Conflict(record, "organisation_code", "the operator answers for no area")
    generator = np.random.default_rng(seed)
    case_rows = _case_candidates(session, areas, period_starts, period_ends)
    benefit_rows = _benefit_candidates(session, areas, period_starts, period_ends)
    now = _now()

    def pending(**act: Any) -> OperatorReview:
        return OperatorReview(
            organisation_id=organisation.id,
            status="pending",
            disallowed=0,
            seed=seed,
            drawn_at=now,
            drawn_by=actor,
            **act,
        )

    drawn: list[OperatorReview] = []
    for index in _draw(generator, len(case_rows), cases):
        case_id, provider_id, admitted_on = case_rows[index]
        case = session.get_one(TargetingHospitalCase, case_id)
        stake = sum(amount for *_, amount in _stay_payments(session, case))
        drawn.append(
            pending(
                act="hospital_case",
                hospital_case_id=case_id,
                provider_id=provider_id,
                act_date=admitted_on,
                at_stake=stake,
            )
        )
    for index in _draw(generator, len(benefit_rows), benefits):
        payment_id, provider_id, served, amount = benefit_rows[index]
        drawn.append(
            pending(
                act="benefit", claim_payment_id=payment_id, provider_id=provider_id, act_date=served, at_stake=amount
            )
        )
    session.add_all(drawn)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="programme_organisation",
        entity_id=organisation.id,
        action="operator_sample",
        after={"seed": seed, "cases": sum(r.act == "hospital_case" for r in drawn), "benefits": len(drawn)},
    )
    return drawn


def _act_payments(session: Session, review: OperatorReview) -> list[tuple[str, str, int, int]]:
    if review.act == "benefit":
        payment = session.get_one(ClaimPayment, review.claim_payment_id)
        fund = ledger.fund_code_of_payment(payment.kind, payment.item_id, payment.payer)
        return [(fund, ledger.ALLOWANCES, payment.claim_pk, int(payment.amount))]
    case = session.get_one(TargetingHospitalCase, review.hospital_case_id)
    return _stay_payments(session, case)


def decide_operator_review(
    *,
    session: Session,
    review_id: int,
    finding: str,
    reason: str | None = None,
    amount: int | None = None,
    actor: str = SYSTEM_ACTOR,
    on: dt.date | None = None,
) -> OperatorReview:
    """Record the verifier's finding on a pending operator review.

    ``finding``: justified, or not_justified with a reason and the amount disallowed (1 to what
    was at stake; default: all of it). The amount is recovered from the operator per fund."""
    record = f"operator review {review_id}"
    # Locked: two verifiers deciding the same act at once must not both recover it.
    review = session.get(OperatorReview, review_id, with_for_update=True)
    if review is None:
        raise NotFound(record, "review_id", "unknown review")
    if finding not in FINDINGS:
        raise ValidationFailed(record, "finding", f"one of {', '.join(FINDINGS)}")
    if review.status != "pending":
        raise Conflict(record, "status", f"already decided ({review.status})")
    disallowed = 0
    if finding == "justified":
        if amount:
            raise ValidationFailed(record, "amount", "only a finding of not justified takes an amount")
    else:
        if not (reason and reason.strip()):
            raise ValidationFailed(record, "reason", "required when the act is not justified")
        disallowed = review.at_stake if amount is None else amount
        if amount is not None and amount <= 0:
            raise ValidationFailed(record, "amount", "must be positive")
        if disallowed > review.at_stake:
            raise ValidationFailed(record, "amount", "must not exceed what the funds paid on the act")
    day = on or _now().date()
    review.status = finding
    review.reason = reason.strip() if reason else None
    review.disallowed = disallowed
    review.decided_by = actor
    review.decided_at = _now()
    if disallowed:
        payments = _act_payments(session, review)
        if disallowed > sum(paid for *_, paid in payments):
            # A claim of the act was reversed since the draw: its payments are no longer there to recover.
            raise Conflict(record, "amount", "more than the funds still have paid on the act")
        by_use: dict[tuple[str, str], int] = defaultdict(int)
        claim_of: dict[str, int] = {}
        for fund, use, claim_pk, paid in payments:
            by_use[(fund, use)] += paid
            claim_of.setdefault(fund, claim_pk)
        per_fund: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for (fund, use), share in split_recovery(disallowed, list(by_use.items())):
            per_fund[fund].append((use, share))
        for fund, uses in per_fund.items():
            total = sum(share for _, share in uses)
            session.add(
                OperatorRecovery(
                    review_id=review.id,
                    organisation_id=review.organisation_id,
                    fund_code=fund,
                    amount=total,
                    recorded_on=day,
                )
            )
            claim = session.get_one(Claim, claim_of[fund])
            currency, digits = claims_service.money_of_version(
                session=session, version_id=claim.policy_version_id, record=record
            )
            ledger.ensure_fund(session=session, code=fund, name=fund, currency=currency, minor_digits=digits)
            ledger.post_entry(
                session=session,
                fund_code=fund,
                posted_on=day,
                kind="recovery",
                lines=[ledger.Line(ADMINISTRATION, debit=total)] + [ledger.Line(use, credit=s) for use, s in uses],
                reference=f"operator review {review.id}",
                memo=f"not justified: {review.act} of operator {review.organisation_id}",
                actor=actor,
            )
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="operator_reviews",
        entity_id=review.id,
        action="update",
        before={"status": "pending"},
        after={"status": review.status, "disallowed": disallowed},
    )
    return review


@dataclass(frozen=True, slots=True)
class OperatorQueueItem:
    review_id: int
    organisation_code: str
    act: str
    act_date: dt.date
    provider_code: str
    at_stake: int
    status: str
    disallowed: int


def operator_queue(
    *,
    session: Session,
    organisation_code: str | None = None,
    statuses: tuple[str, ...] = ("pending",),
    provider_scope: Any = None,
    limit: int = 500,
    offset: int = 0,
) -> list[OperatorQueueItem]:
    """Operator reviews (pending by default), largest amount at stake first; ``provider_scope``: an
    SQL condition on ``Provider`` (a verifier's area)."""
    from equicover.organisations.models import ProgrammeOrganisation

    query = (
        select(OperatorReview, ProgrammeOrganisation.code, Provider.code)
        .join(ProgrammeOrganisation, ProgrammeOrganisation.id == OperatorReview.organisation_id)
        .join(Provider, Provider.id == OperatorReview.provider_id)
        .where(OperatorReview.status.in_(statuses))
        .order_by(OperatorReview.at_stake.desc(), OperatorReview.id)
    )
    if organisation_code is not None:
        query = query.where(ProgrammeOrganisation.code == organisation_code)
    if provider_scope is not None:
        query = query.where(provider_scope)
    return [
        OperatorQueueItem(
            review.id, code, review.act, review.act_date, provider, review.at_stake, review.status, review.disallowed
        )
        for review, code, provider in session.execute(query.limit(limit).offset(offset)).all()
    ]


def count_operator_queue(
    *,
    session: Session,
    organisation_code: str | None = None,
    statuses: tuple[str, ...] = ("pending",),
    provider_scope: Any = None,
) -> int:
    """How many reviews :func:`operator_queue` would list with no limit (a pager's true count)."""
    from equicover.organisations.models import ProgrammeOrganisation

    query = (
        select(func.count())
        .select_from(OperatorReview)
        .join(ProgrammeOrganisation, ProgrammeOrganisation.id == OperatorReview.organisation_id)
        .join(Provider, Provider.id == OperatorReview.provider_id)
        .where(OperatorReview.status.in_(statuses))
    )
    if organisation_code is not None:
        query = query.where(ProgrammeOrganisation.code == organisation_code)
    if provider_scope is not None:
        query = query.where(provider_scope)
    return int(session.scalar(query) or 0)


def outstanding_operator_recoveries(*, session: Session, organisation_code: str) -> dict[str, int]:
    """Per fund, what findings took back from the operator that no payment has deducted yet."""
    organisation = organisations.get_organisation(session=session, code=organisation_code, role=OPERATOR_ROLE)
    return {
        fund: int(amount)
        for fund, amount in session.execute(
            select(OperatorRecovery.fund_code, func.sum(OperatorRecovery.amount))
            .where(OperatorRecovery.organisation_id == organisation.id, OperatorRecovery.deducted_in.is_(None))
            .group_by(OperatorRecovery.fund_code)
            .order_by(OperatorRecovery.fund_code)
        ).all()
    }


def deduct_operator_recoveries(*, session: Session, organisation_code: str, payment_reference: str) -> dict[str, int]:
    """Mark the operator's outstanding recoveries as deducted from the payment ``payment_reference``
    (the payer pays the fee less these sums); returns them per fund."""
    if not payment_reference.strip():
        raise ValidationFailed(f"operator {organisation_code}", "payment_reference", "must not be empty")
    due = outstanding_operator_recoveries(session=session, organisation_code=organisation_code)
    organisation = organisations.get_organisation(session=session, code=organisation_code, role=OPERATOR_ROLE)
    for recovery in session.scalars(
        select(OperatorRecovery).where(
            OperatorRecovery.organisation_id == organisation.id, OperatorRecovery.deducted_in.is_(None)
        )
    ):
        recovery.deducted_in = payment_reference.strip()[:100]
    session.flush()
    return due


@dataclass(frozen=True, slots=True)
class OperatorScorecard:
    organisation_code: str
    name: str
    hospital_cases: int
    benefits: int
    benefits_paid: int
    reviewed: int
    not_justified: int
    disallowed: int
    outstanding: int  # recovered, not yet deducted from a payment

    @property
    def not_justified_rate(self) -> float | None:
        return self.not_justified / self.reviewed if self.reviewed else None


def operator_scorecards(*, session: Session, period_starts: dt.date, period_ends: dt.date) -> list[OperatorScorecard]:
    """One scorecard per HEF operator: its acts in the period and the findings on them."""
    if period_ends < period_starts:
        raise ValidationFailed("operator scorecards", "period_ends", "is before period_starts")
    cards = []
    for organisation in organisations.list_organisations(session=session, role=OPERATOR_ROLE):
        areas = organisations.area_ids(session=session, organisation_id=organisation.id)
        cases = benefits = paid = 0
        if areas:
            counted = select(func.count()).select_from(TargetingHospitalCase)
            cases = int(session.scalar(_operator_cases(counted, areas, period_starts, period_ends)) or 0)
            summed = select(func.count(), func.coalesce(func.sum(ClaimPayment.amount), 0)).select_from(ClaimPayment)
            count, total = session.execute(_operator_benefits(summed, areas, period_starts, period_ends)).one()
            benefits, paid = int(count), int(total)
        decided = session.execute(
            select(
                func.count(),
                func.count().filter(OperatorReview.status == "not_justified"),
                func.coalesce(func.sum(OperatorReview.disallowed), 0),
            ).where(
                OperatorReview.organisation_id == organisation.id,
                OperatorReview.status != "pending",
                and_(OperatorReview.act_date >= period_starts, OperatorReview.act_date <= period_ends),
            )
        ).one()
        outstanding = session.scalar(
            select(func.coalesce(func.sum(OperatorRecovery.amount), 0)).where(
                OperatorRecovery.organisation_id == organisation.id, OperatorRecovery.deducted_in.is_(None)
            )
        )
        cards.append(
            OperatorScorecard(
                organisation_code=organisation.code,
                name=organisation.name,
                hospital_cases=cases,
                benefits=benefits,
                benefits_paid=paid,
                reviewed=int(decided[0]),
                not_justified=int(decided[1] or 0),
                disallowed=int(decided[2] or 0),
                outstanding=int(outstanding or 0),
            )
        )
    return cards


def money_of_review(*, session: Session, review_id: int) -> tuple[str, int]:
    """The currency and minor digits the act's amounts are counted in (its claim's policy version)."""
    review = session.get(OperatorReview, review_id)
    record = f"operator review {review_id}"
    if review is None:
        raise NotFound(record, "review_id", "unknown review")
    payments = _act_payments(session, review)
    if not payments:
        raise Conflict(record, "at_stake", "the funds paid nothing on the act: there is no amount to disallow")
    claim = session.get_one(Claim, payments[0][2])
    return claims_service.money_of_version(session=session, version_id=claim.policy_version_id, record=record)


def minor_digits_of_review(*, session: Session, review_id: int) -> int:
    """The minor digits the act's amounts are counted in (its claim's policy version)."""
    return money_of_review(session=session, review_id=review_id)[1]
