"""Claims, policies, eligibility and the settlement report over HTTP (``/api/v1``)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from equicover.auth.deps import CurrentUser, require_roles, require_roles_fast
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.claims import service
from equicover.claims.group_commit import ClaimBatcher
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion
from equicover.claims.schemas import (
    AdjustmentOut,
    ClaimIn,
    ClaimOut,
    EligibilityOut,
    PaymentOut,
    PolicyIn,
    PolicyVersionOut,
)
from equicover.claims.scoping import claims_filter, ensure_claim_visible
from equicover.claims.settle_and_store import ClaimSubmission, SettledClaim, SettledPayment
from equicover.errors import EquicoverError, NotFound
from equicover.http.deps import PageDep, SessionDep
from equicover.http.pagination import Page
from equicover.registry.scoping import ensure_person_visible

router = APIRouter(prefix="/api/v1")

ClaimIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/-]+$")]
ProviderQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="The facility's code: a bill number is unique per facility (default: a clerk's own)",
    ),
]
SUBMITTERS = (Role.CLERK, Role.ADMIN)
# Reversal (``POST /claims/{claim_id}/reversal``) is ``equicover.payments.api``'s: it reaches payments and ledger.
REVERSERS = (Role.CLERK, Role.VERIFIER, Role.ADMIN)
CLAIM_READERS = (Role.CLERK, Role.VERIFIER, Role.REGISTRAR, Role.FUND_MANAGER, Role.ADMIN)


def claim_out(session: Session | None, row: Claim | SettledClaim, *, created: bool = True) -> ClaimOut:
    return ClaimOut(
        id=row.id,
        claim_id=row.claim_id,
        person_id=row.person_id,
        provider_id=row.provider_id,
        policy_version_id=row.policy_version_id,
        service_date=row.service_date,
        provider_level=row.provider_level,
        designated=row.designated,
        in_area=row.in_area,
        referred=row.referred,
        care_type=row.care_type,
        days=row.days,
        total=row.total,
        eligible=row.eligible,
        status=row.status,
        allowed=row.allowed,
        provider_writeoff=row.provider_writeoff,
        member_oop=row.member_oop,
        trail=row.trail,
        zero_reason=row.zero_reason,
        submitted_at=row.submitted_at,
        submitted_by=row.submitted_by,
        reversed_at=row.reversed_at,
        reversed_by=row.reversed_by,
        reversal_reason=row.reversal_reason,
        payments=[
            PaymentOut(kind=p.kind, item_id=p.item_id, payer=p.payer, amount=p.amount) for p in _payments(session, row)
        ],
        adjustments=_adjustments(session, row),
        created=created,
    )


def _adjustments(session: Session | None, row: Claim | SettledClaim) -> list[AdjustmentOut]:
    if session is None or isinstance(row, SettledClaim):  # a claim just settled has none yet
        return []
    return [
        AdjustmentOut(
            kind=line.kind,
            item_id=line.item_id,
            payer=line.payer,
            amount=line.amount,
            reason=line.reason,
            cause=line.cause,
            created_at=line.created_at,
        )
        for line in service.adjustments_of(session=session, claim_pk=row.id)
    ]


def _payments(session: Session | None, row: Claim | SettledClaim) -> Sequence[SettledPayment | ClaimPayment]:
    # Set by submit_claim on the claims it just wrote, and by the claim batcher on those it read back.
    written: list[SettledPayment] | list[ClaimPayment] | None = getattr(row, "settled_payments", None)
    if written is not None:
        return written
    assert session is not None, "a claim without its settled payments needs a session to read them"
    return service.payments_of(session=session, claim_pk=row.id)


def _own_provider(user: User) -> int | None:
    return user.provider_id if user.role == Role.CLERK else None


# -- claims -----------------------------------------------------------------------------------


@router.post(
    "/claims",
    response_model=ClaimOut,
    status_code=201,
    tags=["claims"],
    summary="Submit a claim: settled at once; the same claim_id again returns the first result (200)",
    responses={200: {"model": ClaimOut, "description": "Already submitted: the stored result"}},
)
async def submit(
    body: ClaimIn, request: Request, user: Annotated[User, Depends(require_roles_fast(*SUBMITTERS))]
) -> Response:
    # Settled by the application's claim batcher (equicover.claims.group_commit) with the claims
    # submitted at the same moment: no session, no thread hop here.
    batcher: ClaimBatcher = request.app.state.claim_batcher
    result = await batcher.submit_from_loop(ClaimSubmission(body, user.username, _own_provider(user)))
    if isinstance(result, EquicoverError):
        raise result
    row, created = result
    # Serialised here, once: FastAPI would validate the ClaimOut again before serialising it.
    return Response(
        claim_out(None, row, created=created).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.get("/claims", response_model=Page[ClaimOut], tags=["claims"], summary="Claims visible to you, newest first")
def list_claims(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CLAIM_READERS))],
    page: PageDep,
    person_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    location: Annotated[str | None, Query(max_length=64, description="providers in this location or below")] = None,
    category: Annotated[
        str | None, Query(max_length=32, description="member category held on the service date")
    ] = None,
    status: Literal["settled", "reversed"] | None = None,
    zero_reason: Annotated[str | None, Query(max_length=64)] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Page[ClaimOut]:
    conditions = [
        claims_filter(user),
        *service.claim_conditions(
            person_id=person_id,
            provider_code=provider,
            status=status,
            zero_reason=zero_reason,
            date_from=date_from,
            date_to=date_to,
            location_code=location,
            category=category,
        ),
    ]
    rows, total = service.list_claims(session=session, conditions=conditions, limit=page.limit, offset=page.offset)
    return Page[ClaimOut](
        items=[claim_out(session, row) for row in rows], total=total, limit=page.limit, offset=page.offset
    )


def _visible_claim(session: Session, user: User, claim_id: str, provider: str | None) -> Claim:
    """The claim with this bill number, of the named facility; a clerk's own facility first when
    none is named; 404 unknown, 403 outside the caller's area, 409 a number several facilities use."""
    provider_id = service.provider_id_of(session=session, provider_code=provider) if provider is not None else None
    row = None
    own = _own_provider(user)
    if provider_id is None and own is not None:
        with contextlib.suppress(NotFound):
            row = service.get_claim(session=session, claim_id=claim_id, provider_id=own)
    if row is None:
        row = service.get_claim(session=session, claim_id=claim_id, provider_id=provider_id)
    ensure_claim_visible(session=session, user=user, claim_pk=row.id)
    return row


@router.get(
    "/claims/{claim_id}",
    response_model=ClaimOut,
    tags=["claims"],
    summary="One claim and its payments, by the facility's bill number",
)
def get_claim(
    claim_id: ClaimIdPath,
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CLAIM_READERS))],
    provider: ProviderQuery = None,
) -> ClaimOut:
    return claim_out(session, _visible_claim(session, user, claim_id, provider))


@router.get(
    "/claim-records/{claim_pk}",
    response_model=ClaimOut,
    tags=["claims"],
    summary="One claim and its payments, by its stored id",
)
def get_claim_record(
    claim_pk: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CLAIM_READERS))],
) -> ClaimOut:
    ensure_claim_visible(session=session, user=user, claim_pk=claim_pk)
    return claim_out(session, service.get_claim_by_pk(session=session, claim_pk=claim_pk))


# -- policies ---------------------------------------------------------------------------------


def _version_out(row: PolicyVersion) -> PolicyVersionOut:
    return PolicyVersionOut(
        id=row.id,
        policy_id=row.policy_id,
        name=row.name,
        currency=row.currency,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        scheme_id=row.scheme_id,
        sha256=row.sha256,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
    )


class PolicyVersionDetail(PolicyVersionOut):
    source_text: str


@router.post(
    "/policies",
    response_model=PolicyVersionOut,
    status_code=201,
    tags=["policies"],
    summary="Upload a policy file for a scheme (admin)",
)
def upload_policy(
    body: PolicyIn, session: SessionDep, user: Annotated[User, Depends(require_roles(Role.ADMIN))]
) -> PolicyVersionOut:
    row = service.store_policy_version(
        session=session, source_text=body.source_text, scheme_code=body.scheme_code, actor=user.username
    )
    return _version_out(row)


@router.get(
    "/policies",
    response_model=Page[PolicyVersionOut],
    tags=["policies"],
    summary="Stored policy versions with their effective dates",
)
def list_policies(
    session: SessionDep,
    _user: CurrentUser,
    page: PageDep,
    policy_id: Annotated[str | None, Query(max_length=64)] = None,
    scheme: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[PolicyVersionOut]:
    rows, total = service.list_policy_versions(
        session=session, policy_id=policy_id, scheme_code=scheme, limit=page.limit, offset=page.offset
    )
    return Page[PolicyVersionOut](
        items=[_version_out(row) for row in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/policies/{version_id}",
    response_model=PolicyVersionDetail,
    tags=["policies"],
    summary="One policy version with its file",
)
def get_policy(
    version_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, _user: CurrentUser
) -> PolicyVersionDetail:
    row = service.get_policy_version(session=session, version_id=version_id)
    return PolicyVersionDetail(**_version_out(row).model_dump(), source_text=row.source_text)


# -- eligibility ------------------------------------------------------------------------------


@router.get(
    "/eligibility/{person_id}",
    response_model=EligibilityOut,
    tags=["eligibility"],
    summary="Is this person covered on a date, with what left of each annual cap",
)
def eligibility(
    person_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    user: CurrentUser,
    on: dt.date | None = None,
) -> EligibilityOut:
    ensure_person_visible(session=session, user=user, person_id=person_id)
    return service.eligibility(session=session, person_id=person_id, on=on or dt.date.today())


# -- reports ----------------------------------------------------------------------------------


class PaymentTotal(BaseModel):
    kind: str
    item_id: str
    payer: str
    amount: int


class SettlementReport(BaseModel):
    claims: int
    reversed_claims: int
    total: int
    allowed: int
    provider_writeoff: int
    member_oop: int
    zero_payment_claims: int
    zero_reasons: dict[str, int]
    payments: list[PaymentTotal]


@router.get(
    "/reports/settlement",
    response_model=SettlementReport,
    tags=["reports"],
    summary="Totals of settled claims visible to you",
)
def settlement_report(
    session: SessionDep,
    user: Annotated[User, Depends(require_roles(*CLAIM_READERS, Role.ANALYST))],
    provider: Annotated[str | None, Query(max_length=64)] = None,
    location: Annotated[str | None, Query(max_length=64)] = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Any:
    conditions = [
        claims_filter(user),
        *service.claim_conditions(
            provider_code=provider, location_code=location, category=category, date_from=date_from, date_to=date_to
        ),
    ]
    return service.settlement_report(session=session, conditions=conditions)
