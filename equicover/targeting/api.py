"""Identification of the poor over HTTP (``/api/v1/targeting``).

Rounds are area-scoped: a registrar sees and works on the rounds of its area (404 for an unknown
round, 403 for one outside the area); each step checks the caller's right to it in the service
(a village decision by someone of the household's area, approval by an account of the level the
rules name). Hospital cases are opened by a facility's window (clerk) and confirmed or withdrawn by
a registrar of the household's area.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from equicover.auth.deps import CurrentUser, require_roles
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.http.deps import RowId, SessionDep
from equicover.targeting import service
from equicover.targeting.models import TargetingHospitalCase, TargetingObjection, TargetingRound
from equicover.targeting.schemas import (
    AnswersIn,
    ApprovalOut,
    DecisionIn,
    DecisionOut,
    HospitalCaseOut,
    HospitalIn,
    ImportOut,
    ListedOut,
    ObjectionDecisionIn,
    ObjectionIn,
    ObjectionOut,
    OnIn,
    RoundIn,
    RoundOut,
    RowRejectionOut,
    TransitionOut,
    VillageOut,
)
from equicover.targeting.scoping import ensure_hospital_case_visible, ensure_round_visible

router = APIRouter(prefix="/api/v1/targeting", tags=["targeting"])

ROUND_WORKERS = (Role.REGISTRAR, Role.ADMIN)
HOSPITAL_OPERATORS = (Role.CLERK, Role.ADMIN)
Worker = Annotated[User, Depends(require_roles(*ROUND_WORKERS))]
Operator = Annotated[User, Depends(require_roles(*HOSPITAL_OPERATORS))]


def round_out(row: TargetingRound) -> RoundOut:
    return RoundOut(
        id=row.id,
        rules_id=row.rules_id,
        kind=row.kind,
        location_id=row.location_id,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        status=row.status,
        notice_from=row.notice_from,
        notice_to=row.notice_to,
        approved_on=row.approved_on,
        approved_by=row.approved_by,
        superseded_by_id=row.superseded_by_id,
    )


def objection_out(row: TargetingObjection) -> ObjectionOut:
    return ObjectionOut(
        id=row.id,
        entry_id=row.entry_id,
        asked_category=row.asked_category,
        lodged_on=row.lodged_on,
        status=row.status,
        decided_on=row.decided_on,
    )


def case_out(row: TargetingHospitalCase) -> HospitalCaseOut:
    return HospitalCaseOut(
        id=row.id,
        household_id=row.household_id,
        provider_id=row.provider_id,
        rules_id=row.rules_id,
        category=row.category,
        reason=row.reason,
        admitted_on=row.admitted_on,
        valid_to=row.valid_to,
        status=row.status,
    )


@router.post("/rounds", response_model=RoundOut, status_code=201, summary="Open a round of identification")
def open_round(body: RoundIn, session: SessionDep, user: Worker) -> RoundOut:
    row = service.open_round(
        session=session,
        rules_text=body.rules_text,
        area_code=body.area_code,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        user=user,
        kind=body.kind,
    )
    return round_out(row)


@router.get("/rounds/{round_id}", response_model=RoundOut, summary="One round")
def get_round(round_id: RowId, session: SessionDep, user: CurrentUser) -> RoundOut:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    return round_out(service.get_round(session=session, round_id=round_id))


@router.post("/rounds/{round_id}/answers", response_model=ImportOut, summary="Import households' answers")
def import_answers(round_id: RowId, body: AnswersIn, session: SessionDep, user: Worker) -> ImportOut:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    rows = [
        {"household": row.household, "village": row.village, "area_type": row.area_type, **row.answers}
        for row in body.rows
    ]
    result = service.import_answer_rows(session=session, round_id=round_id, rows=rows, user=user)
    return ImportOut(
        round_id=result.round_id,
        rows_read=result.rows_read,
        imported=result.imported,
        already_imported=result.already_imported,
        rejections=[
            RowRejectionOut(line=r.line, household=r.household, field=r.field, reason=r.reason)
            for r in result.rejections
        ],
    )


@router.post("/rounds/{round_id}/scoring", response_model=dict[str, int], summary="Score every household")
def score_round(round_id: RowId, session: SessionDep, user: Worker) -> dict[str, int]:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    return service.score_round(session=session, round_id=round_id, user=user)


@router.get("/rounds/{round_id}/list", response_model=list[VillageOut], summary="The preliminary list by village")
def preliminary_list(
    round_id: RowId, session: SessionDep, user: CurrentUser, village: str | None = None
) -> list[VillageOut]:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    listed = service.preliminary_list(session=session, round_id=round_id, village=village)
    return [
        VillageOut(
            village=name,
            households=[
                ListedOut(
                    entry_id=e.entry_id,
                    household_code=e.household_code,
                    proposed=e.proposed,
                    final=e.final,
                    reason=e.reason,
                )
                for e in rows
            ],
        )
        for name, rows in listed.items()
    ]


@router.post("/rounds/{round_id}/decisions", response_model=DecisionOut, status_code=201, summary="A village decision")
def decide(round_id: RowId, body: DecisionIn, session: SessionDep, user: Worker) -> DecisionOut:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    row = service.decide(
        session=session,
        round_id=round_id,
        household_code=body.household_code,
        kind=body.kind,
        reason=body.reason,
        user=user,
        on=body.on,
        to_category=body.to_category,
    )
    return DecisionOut(
        id=row.id,
        kind=row.kind,
        from_category=row.from_category,
        to_category=row.to_category,
        decided_on=row.decided_on,
        decided_by=row.decided_by,
    )


@router.post("/rounds/{round_id}/notice", response_model=RoundOut, summary="Post the list: the notice starts")
def publish_notice(round_id: RowId, body: OnIn, session: SessionDep, user: Worker) -> RoundOut:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    return round_out(service.publish_notice(session=session, round_id=round_id, on=body.on, user=user))


@router.get("/rounds/{round_id}/notice", response_class=PlainTextResponse, summary="The printable list")
def printable_notice(round_id: RowId, session: SessionDep, user: CurrentUser) -> str:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    return service.printable_notice(session=session, round_id=round_id)


@router.post("/rounds/{round_id}/objections", response_model=ObjectionOut, status_code=201, summary="An objection")
def lodge_objection(round_id: RowId, body: ObjectionIn, session: SessionDep, user: Worker) -> ObjectionOut:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    row = service.lodge_objection(
        session=session,
        round_id=round_id,
        household_code=body.household_code,
        asked_category=body.asked_category,
        grounds=body.grounds,
        on=body.on,
        user=user,
    )
    return objection_out(row)


@router.post("/objections/{objection_id}/decision", response_model=ObjectionOut, summary="Decide an objection")
def decide_objection(objection_id: RowId, body: ObjectionDecisionIn, session: SessionDep, user: Worker) -> ObjectionOut:
    objection = session.get(TargetingObjection, objection_id)
    if objection is not None:
        entry_round = service.round_of_entry(session=session, entry_id=objection.entry_id)
        ensure_round_visible(session=session, user=user, round_id=entry_round)
    row = service.decide_objection(
        session=session, objection_id=objection_id, uphold=body.uphold, ruling=body.ruling, on=body.on, user=user
    )
    return objection_out(row)


@router.post("/rounds/{round_id}/approval", response_model=ApprovalOut, summary="Approve: write the categories")
def approve_round(round_id: RowId, body: OnIn, session: SessionDep, user: Worker) -> ApprovalOut:
    ensure_round_visible(session=session, user=user, round_id=round_id)
    result = service.approve_round(session=session, round_id=round_id, on=body.on, user=user)
    return ApprovalOut(
        round_id=result.round_id,
        households=result.households,
        categories_written=result.categories_written,
        superseded_round_id=result.superseded_round_id,
        transitions=[
            TransitionOut(household_code=t.household_code, before=t.before, after=t.after, holds_until=t.holds_until)
            for t in result.transitions
        ],
    )


@router.post("/hospital-cases", response_model=HospitalCaseOut, status_code=201, summary="Post-identify a patient")
def post_identify(body: HospitalIn, session: SessionDep, user: Operator) -> HospitalCaseOut:
    row = service.post_identify(
        session=session,
        rules_text=body.rules_text,
        household_code=body.household_code,
        answers=body.answers,
        admitted_on=body.admitted_on,
        user=user,
        area_type=body.area_type,
    )
    return case_out(row)


@router.get("/hospital-cases/{case_id}", response_model=HospitalCaseOut, summary="One hospital case")
def get_hospital_case(case_id: RowId, session: SessionDep, user: CurrentUser) -> HospitalCaseOut:
    ensure_hospital_case_visible(session=session, user=user, case_id=case_id)
    row = session.get(TargetingHospitalCase, case_id)
    assert row is not None
    return case_out(row)


@router.post("/hospital-cases/{case_id}/confirmation", response_model=HospitalCaseOut, summary="Confirm a stay's case")
def confirm_hospital_case(case_id: RowId, body: OnIn, session: SessionDep, user: Worker) -> HospitalCaseOut:
    ensure_hospital_case_visible(session=session, user=user, case_id=case_id)
    return case_out(service.confirm_hospital_case(session=session, case_id=case_id, on=body.on, user=user))


@router.post("/hospital-cases/{case_id}/withdrawal", response_model=HospitalCaseOut, summary="Withdraw a stay's case")
def withdraw_hospital_case(case_id: RowId, body: OnIn, session: SessionDep, user: Worker) -> HospitalCaseOut:
    ensure_hospital_case_visible(session=session, user=user, case_id=case_id)
    return case_out(service.withdraw_hospital_case(session=session, case_id=case_id, on=body.on, user=user))
