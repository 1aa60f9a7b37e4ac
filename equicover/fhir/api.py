"""FHIR R4 endpoints under ``/fhir``.

- ``GET /fhir/metadata``: the CapabilityStatement (no sign-in needed, as FHIR expects).
- Reads: ``Patient``, ``Group`` (household), ``Organization`` (provider), ``Location`` (an area,
  or ``provider-<id>`` a provider's site), ``Coverage`` (``<person>.<policy version>.<layer>``),
  ``Claim``, ``ClaimResponse``, ``ExplanationOfBenefit`` (all three by the claim's row id).
- Searches (Bundle ``searchset``, ``_count`` and ``_offset`` for paging):
  ``Patient?identifier=<system>|<value>``, ``Coverage?beneficiary=Patient/<id>[&date=YYYY-MM-DD]``,
  ``ExplanationOfBenefit?patient=Patient/<id>``.
- ``POST /fhir/CoverageEligibilityRequest`` -> CoverageEligibilityResponse.
- ``POST /fhir/Claim`` -> ClaimResponse: settled in real time by the claims service, idempotent on
  the Claim's identifier (201 when settled now, 200 when it is the stored answer of an earlier
  submission).

Authentication and area scoping are those of the rest of the API (``equicover.http.deps``,
``equicover.auth.scoping``): reading a record outside the caller's area or facility is 403, an
unknown one 404. Every answer is ``application/fhir+json``; every error an OperationOutcome
(:class:`FhirRoute` turns the typed errors into one), never a bare 500 for bad input.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from equicover import __version__
from equicover import fhir_mapping as mapping
from equicover.auth.deps import CurrentUser
from equicover.auth.roles import Role
from equicover.claims import scoping as claim_scoping
from equicover.errors import EquicoverError, Forbidden
from equicover.fhir.parsing import (
    FhirInputError,
    parse_claim,
    parse_eligibility_request,
    provider_id_of,
    read_json,
    resolve_patient,
    row_id,
    to_minor,
)
from equicover.http.deps import SessionDep
from equicover.providers import scoping as provider_scoping
from equicover.registry import scoping as registry_scoping

log = logging.getLogger("equicover.fhir")

MAX_COUNT = 500
DEFAULT_COUNT = 50
_ERROR_ISSUE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    422: "processing",
}


def _outcome_response(
    status: int, issues: Sequence[tuple[str, str, str | None]], headers: dict[str, str] | None = None
) -> Response:
    return Response(
        mapping.to_json(mapping.operation_outcome(list(issues))),
        status_code=status,
        media_type=mapping.FHIR_JSON,
        headers=headers,
    )


def error_outcome(error: Exception) -> Response | None:
    """The OperationOutcome answer for a known error, or None for an unexpected one."""
    if isinstance(error, FhirInputError):
        return _outcome_response(error.status, error.issues)
    if isinstance(error, EquicoverError):
        expression = getattr(error, "field", None)
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return _outcome_response(
            error.status,
            [
                (
                    _ERROR_ISSUE.get(error.status, "processing"),
                    error.message,
                    None if expression in (None, "id") else expression,
                )
            ],
            headers,
        )
    if isinstance(error, RequestValidationError):
        issues = []
        for item in error.errors()[:20]:
            location = ".".join(str(part) for part in item.get("loc", ()))
            issues.append(("invalid", f"{location}: {item.get('msg', 'invalid')}", None))
        return _outcome_response(400, issues)
    if isinstance(error, StarletteHTTPException):
        detail = error.detail if isinstance(error.detail, str) else "error"
        return _outcome_response(
            error.status_code,
            [(_ERROR_ISSUE.get(error.status_code, "processing"), detail, None)],
            getattr(error, "headers", None),
        )
    if isinstance(error, IntegrityError):
        log.warning("integrity error in a FHIR request: %s", type(error.orig).__name__)
        return _outcome_response(409, [("conflict", "the request clashes with stored data", None)])
    return None


class FhirRoute(APIRoute):
    """Answers every known error of a ``/fhir`` route, its dependencies included (sign-in,
    roles, request parameters), with an OperationOutcome.

    The session dependency commits after such an answer, so the endpoints that write roll their
    session back themselves before raising (:func:`_rolled_back_on_error`).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:
                answer = error_outcome(error)
                if answer is None:
                    raise
                return answer

        return fhir_handler


router = APIRouter(prefix="/fhir", tags=["fhir"], route_class=FhirRoute)


class FhirResponse(Response):
    media_type = mapping.FHIR_JSON


def _answer(resource: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(mapping.to_json(resource), status_code=status, media_type=mapping.FHIR_JSON, headers=headers)


@contextmanager
def _rolled_back_on_error(session: Session) -> Iterator[None]:
    try:
        yield
    except BaseException:
        session.rollback()
        raise


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]

_RESOURCE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            mapping.FHIR_JSON: {"schema": {"type": "object", "additionalProperties": True}},
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
        },
    }
}
# Every answer is a FHIR resource (JSON object); without this the document would say "a string".
_RESOURCE_SCHEMA = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
    "additionalProperties": True,
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {mapping.FHIR_JSON: {"schema": _RESOURCE_SCHEMA}}, "description": "A FHIR resource"},
    400: {"description": "OperationOutcome: not JSON, wrong resourceType, invalid FHIR"},
    401: {"description": "OperationOutcome: sign in first"},
    403: {"description": "OperationOutcome: outside your area, facility or role"},
    404: {"description": "OperationOutcome: unknown resource"},
    422: {"description": "OperationOutcome: valid FHIR that breaks a rule (unknown patient, bad amount)"},
}


def _not_found(resource_type: str, resource_id: str) -> FhirInputError:
    shown = (
        resource_id
        if len(resource_id) <= 64 and resource_id.replace("-", "").replace(".", "").isalnum()
        else "(invalid id)"
    )
    return FhirInputError(404, [("not-found", f"{resource_type}/{shown} is not known", None)])


def _int_id(resource_type: str, resource_id: str) -> int:
    found = row_id(resource_id)
    if found is None:
        raise _not_found(resource_type, resource_id)
    return found


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir/"


# ---------------------------------------------------------------- metadata


@router.get("/metadata", response_class=FhirResponse, responses=_RESPONSES, summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    return _answer(mapping.capability_statement(software_version=__version__, base_url=_base_url(request)))


# ---------------------------------------------------------------- registry and providers


def _person(session: Session, user: Any, person_id: int) -> Any:
    from equicover.registry.service import get_person

    registry_scoping.ensure_person_visible(session=session, user=user, person_id=person_id)
    return get_person(session=session, person_id=person_id)


@router.get("/Patient/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a Patient")
def read_patient(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    person = _person(session, user, _int_id("Patient", resource_id))
    return _answer(mapping.patient(person))


def _page(count: int | None, offset: int | None) -> tuple[int, int]:
    return (DEFAULT_COUNT if count is None else count), (offset or 0)


CountParam = Annotated[int | None, Query(alias="_count", ge=0, le=MAX_COUNT, description="Page size")]
OffsetParam = Annotated[int | None, Query(alias="_offset", ge=0, le=10**9, description="Matches to skip")]


def _bundle(request: Request, resources: list[Any], total: int) -> Response:
    return _answer(mapping.searchset(resources, base_url=_base_url(request), total=total, self_url=str(request.url)))


@router.get("/Patient", response_class=FhirResponse, responses=_RESPONSES, summary="Search Patients by identifier")
def search_patients(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    identifier: Annotated[
        str | None, Query(max_length=300, description="<system>|<value>: a national ID, or the person id")
    ] = None,
    count: CountParam = None,
    offset: OffsetParam = None,
) -> Response:
    from equicover.registry.models import Person

    limit, skip = _page(count, offset)
    query = select(Person).where(registry_scoping.persons_filter(user))
    if identifier is None:
        raise FhirInputError(400, [("required", "search parameter identifier=<system>|<value> is required", None)])
    system, separator, value = identifier.rpartition("|")
    if not separator:
        system, value = "", identifier
    if not value or "\x00" in identifier:
        raise FhirInputError(400, [("invalid", "identifier needs a value: <system>|<value>", None)])
    if system == mapping.PERSON_SYSTEM:
        person_id = row_id(value)
        query = query.where(Person.id == person_id) if person_id is not None else query.where(Person.id.is_(None))
    elif system:
        id_type = mapping.id_type_of_system(system)
        query = (
            query.where(Person.id_type == id_type, Person.national_id == value)
            if id_type
            else query.where(Person.id.is_(None))
        )
    else:
        query = query.where(Person.national_id == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    persons = session.scalars(query.order_by(Person.id).limit(limit).offset(skip)).all()
    return _bundle(request, [mapping.patient(person) for person in persons], total)


@router.get(
    "/Group/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a household as a Group"
)
def read_group(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.registry.models import Household
    from equicover.registry.service import household_members

    household_id = _int_id("Group", resource_id)
    registry_scoping.ensure_household_visible(session=session, user=user, household_id=household_id)
    household = session.get(Household, household_id)
    return _answer(mapping.household_group(household, household_members(session=session, household_id=household_id)))


@router.get(
    "/Organization/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read a provider as an Organization",
)
def read_organization(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.providers.models import Provider

    provider_id = _int_id("Organization", resource_id)
    provider_scoping.ensure_provider_visible(session=session, user=user, provider_id=provider_id)
    return _answer(mapping.provider_organization(session.get(Provider, provider_id)))


@router.get(
    "/Location/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read an area or a provider's site",
)
def read_location(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.providers.models import Provider
    from equicover.registry.models import Location

    if resource_id.startswith("provider-"):
        provider_id = _int_id("Location", resource_id.removeprefix("provider-"))
        provider_scoping.ensure_provider_visible(session=session, user=user, provider_id=provider_id)
        return _answer(mapping.provider_location(session.get(Provider, provider_id)))
    # Areas (country, province, district, commune) are public reference data: any signed-in user.
    location = session.get(Location, _int_id("Location", resource_id))
    if location is None:
        raise _not_found("Location", resource_id)
    return _answer(mapping.area_location(location))


# ---------------------------------------------------------------- coverage and eligibility


def _version(session: Session, version_id: int | None) -> Any:
    from equicover.claims.service import get_policy_version

    return None if version_id is None else get_policy_version(session=session, version_id=version_id)


def _digits_of(version: Any) -> int:
    """The version's stored digits: every other view of its claims prints with the same."""
    return int(version.minor_digits)


def _benefit_year_bounds(version: Any, benefit_year: int) -> tuple[dt.date, dt.date]:
    from equicover.claims.service import loaded_policy

    month, day = loaded_policy(version).year_start
    start = dt.date(max(benefit_year, dt.MINYEAR), month, day)
    end = dt.date.max if benefit_year >= dt.MAXYEAR else dt.date(benefit_year + 1, month, day) - dt.timedelta(days=1)
    return start, end


def coverages_in_force(*, session: Session, person_id: int, on: dt.date) -> tuple[list[mapping.CoverageInForce], Any]:
    """The person's coverage on ``on`` from the claims service's eligibility answer."""
    from equicover.claims.service import eligibility

    answer = eligibility(session=session, person_id=person_id, on=on)
    found = []
    for scheme in answer.schemes:
        version = _version(session, scheme.policy_version_id)
        if version is None or not scheme.layers:
            continue
        year_start, year_end = _benefit_year_bounds(version, scheme.layers[0].benefit_year)
        start = max(scheme.enrolled_from, version.effective_from)
        end = scheme.enrolled_to if version.effective_to is None else min(scheme.enrolled_to, version.effective_to)
        layers = tuple(
            mapping.LayerStanding(
                layer_id=layer.layer_id,
                payer=layer.payer,
                order=order,
                cap_kind=None
                if layer.annual_cap is None
                else ("max_per_year" if layer.kind == "oop_cap" else "cap_per_year"),
                annual_cap=layer.annual_cap,
                used=layer.used,
            )
            for order, layer in enumerate(scheme.layers, start=1)
        )
        found.append(
            mapping.CoverageInForce(
                person_id=person_id,
                policy_version_id=version.id,
                policy_id=version.policy_id,
                policy_name=version.name,
                scheme_code=scheme.scheme_code,
                currency=version.currency,
                minor_digits=_digits_of(version),
                period_start=start,
                period_end=end,
                benefit_year_start=year_start,
                benefit_year_end=year_end,
                layers=layers,
                active=answer.covered,
            )
        )
    return found, answer


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@router.get(
    "/Coverage/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read the Coverage of one layer",
)
def read_coverage(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.enrolment.service import enrolments_of

    parsed = mapping.parse_coverage_id(resource_id)
    if parsed is None:
        raise _not_found("Coverage", resource_id)
    person_id, version_id, layer_id = parsed
    _person(session, user, person_id)
    version = _version(session, version_id)
    if version is None:
        raise _not_found("Coverage", resource_id)
    # The coverage this id names is the enrolment in the version's scheme during the version's
    # period: ask for eligibility on the first day both hold.
    for enrolment in sorted(enrolments_of(session=session, person_id=person_id), key=lambda row: row.starts):
        if enrolment.scheme_id != version.scheme_id or enrolment.status == "cancelled":
            continue
        start = max(enrolment.starts, version.effective_from)
        end = enrolment.ends if version.effective_to is None else min(enrolment.ends, version.effective_to)
        if start > end:
            continue
        for coverage in coverages_in_force(session=session, person_id=person_id, on=start)[0]:
            if coverage.policy_version_id != version_id:
                continue
            for layer in coverage.layers:
                if layer.layer_id == layer_id:
                    return _answer(mapping.layer_coverage(coverage, layer))
    raise _not_found("Coverage", resource_id)


def _patient_param(value: str, name: str) -> int:
    text = value.removeprefix("Patient/")
    if not text.isascii() or not text.isdigit():
        raise FhirInputError(400, [("invalid", f"{name} must be Patient/<id> or <id>", None)])
    person_id = row_id(text)
    if person_id is None:
        raise _not_found("Patient", text)
    return person_id


@router.get("/Coverage", response_class=FhirResponse, responses=_RESPONSES, summary="Search Coverage by beneficiary")
def search_coverage(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    beneficiary: Annotated[str, Query(max_length=100, description="Patient/<id> or <id>")],
    date: Annotated[dt.date | None, Query(description="Coverage in force on this day (default: today)")] = None,
    count: CountParam = None,
    offset: OffsetParam = None,
) -> Response:
    person_id = _patient_param(beneficiary, "beneficiary")
    _person(session, user, person_id)
    limit, skip = _page(count, offset)
    found, _eligibility = coverages_in_force(session=session, person_id=person_id, on=date or _today())
    resources = [resource for coverage in found for resource in mapping.coverages(coverage)]
    return _bundle(request, resources[skip : skip + limit], len(resources))


@router.post(
    "/CoverageEligibilityRequest",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_RESOURCE_BODY,
    summary="Is this patient covered on the date, by which layers, with what left of each annual cap",
)
def check_eligibility(body: RawBody, session: SessionDep, user: CurrentUser) -> Response:
    parsed = parse_eligibility_request(read_json(body), today=_today())
    person_id = resolve_patient(session=session, ref=parsed.patient, expression="CoverageEligibilityRequest.patient")
    _person(session, user, person_id)
    found, answer = coverages_in_force(session=session, person_id=person_id, on=parsed.serviced_on)
    reason = None if found else ("no_policy" if answer.schemes else "not_enrolled")
    return _answer(
        mapping.eligibility_response(
            person_id=person_id,
            serviced_on=parsed.serviced_on,
            coverages_in_force=found,
            request_id=parsed.request_id,
            purpose=parsed.purpose,
            not_covered_reason=reason,
        )
    )


# ---------------------------------------------------------------- claims


def settled_claim(*, session: Session, claim: Any) -> mapping.SettledClaim:
    """A stored claim with what the FHIR resources need: its payments, currency and coverages."""
    from equicover.claims.service import payments_of

    payments = tuple(payments_of(session=session, claim_pk=claim.id))
    version = _version(session, claim.policy_version_id)
    if version is None:
        # Settled with nothing paid (no coverage in force): amounts in the currency of the
        # schemes around the claim (see _fallback_money).
        currency, digits = _fallback_money(session, claim.person_id, claim.provider_id)
        return mapping.SettledClaim(claim=claim, payments=payments, currency=currency, minor_digits=digits)
    layers = [payment for payment in payments if payment.kind == "layer"]
    return mapping.SettledClaim(
        claim=claim,
        payments=payments,
        currency=version.currency,
        minor_digits=_digits_of(version),
        policy_id=version.policy_id,
        policy_name=version.name,
        coverage_ids=tuple(mapping.coverage_id(claim.person_id, version.id, payment.item_id) for payment in layers),
        layer_payers={payment.item_id: payment.payer for payment in layers},
    )


UNKNOWN_CURRENCY = ("XXX", 0)  # ISO 4217 "no currency": a claim nobody could ever cover


def _fallback_money(session: Session, person_id: int, provider_id: int) -> tuple[str, int]:
    """Currency of a claim that no policy covered: that of a scheme the person was ever enrolled
    in, else of a scheme the provider has a contract with (lowest ids: stable answers)."""
    from equicover.enrolment.models import Enrolment, Scheme
    from equicover.providers.models import Contract

    row = session.execute(
        select(Scheme.currency, Scheme.minor_digits)
        .join(Enrolment, Enrolment.scheme_id == Scheme.id)
        .where(Enrolment.person_id == person_id)
        .order_by(Scheme.id)
        .limit(1)
    ).first()
    if row is None:
        row = session.execute(
            select(Scheme.currency, Scheme.minor_digits)
            .join(Contract, Contract.scheme_id == Scheme.id)
            .where(Contract.provider_id == provider_id)
            .order_by(Scheme.id)
            .limit(1)
        ).first()
    return (row[0], row[1]) if row is not None else UNKNOWN_CURRENCY


def _stored_claim(session: Session, user: Any, resource_type: str, resource_id: str) -> Any:
    from equicover.claims.models import Claim

    claim_pk = _int_id(resource_type, resource_id)
    claim_scoping.ensure_claim_visible(session=session, user=user, claim_pk=claim_pk)
    return session.get(Claim, claim_pk)


@router.get("/Claim/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a Claim")
def read_claim(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    claim = _stored_claim(session, user, "Claim", resource_id)
    return _answer(mapping.claim_resource(settled_claim(session=session, claim=claim)))


@router.get(
    "/ClaimResponse/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a ClaimResponse"
)
def read_claim_response(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    claim = _stored_claim(session, user, "ClaimResponse", resource_id)
    return _answer(mapping.claim_response(settled_claim(session=session, claim=claim)))


@router.get(
    "/ExplanationOfBenefit/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read an ExplanationOfBenefit",
)
def read_explanation_of_benefit(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    claim = _stored_claim(session, user, "ExplanationOfBenefit", resource_id)
    return _answer(mapping.explanation_of_benefit(settled_claim(session=session, claim=claim)))


@router.get(
    "/ExplanationOfBenefit",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Search ExplanationOfBenefit by patient",
)
def search_explanation_of_benefit(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    patient: Annotated[str, Query(max_length=100, description="Patient/<id> or <id>")],
    count: CountParam = None,
    offset: OffsetParam = None,
) -> Response:
    from equicover.claims.models import Claim

    person_id = _patient_param(patient, "patient")
    _person(session, user, person_id)
    limit, skip = _page(count, offset)
    query = select(Claim).where(Claim.person_id == person_id, claim_scoping.claims_filter(user))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    claims = session.scalars(query.order_by(Claim.service_date, Claim.id).limit(limit).offset(skip)).all()
    return _bundle(
        request,
        [mapping.explanation_of_benefit(settled_claim(session=session, claim=claim)) for claim in claims],
        total,
    )


@router.get(
    "/PaymentReconciliation/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read a payment batch to a provider as a PaymentReconciliation",
)
def read_payment_reconciliation(resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.payments import service as payments  # the payment batches (funds work) build the resource

    batch = payments.get_batch(session=session, batch_id=_int_id("PaymentReconciliation", resource_id))
    provider_scoping.ensure_provider_visible(session=session, user=user, provider_id=batch.provider_id)
    data = payments.payment_reconciliation(session=session, batch_id=batch.id)
    return Response(mapping.encode_json(data), media_type=mapping.FHIR_JSON)


CLAIM_SUBMITTERS = frozenset({Role.CLERK, Role.ADMIN})


@router.post(
    "/Claim",
    response_class=FhirResponse,
    responses={
        **_RESPONSES,
        201: {"content": {mapping.FHIR_JSON: {}}, "description": "ClaimResponse of a claim settled now"},
    },
    openapi_extra=_RESOURCE_BODY,
    summary="Submit a Claim: settled in real time, answered with its ClaimResponse (idempotent on Claim.identifier)",
)
def submit_claim(body: RawBody, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.claims import service as claims_service
    from equicover.claims.schemas import ClaimIn
    from equicover.errors import from_pydantic
    from equicover.providers.models import Provider

    if user.role not in CLAIM_SUBMITTERS:
        raise Forbidden(f"user {user.username}", "role", "submitting claims needs the role clerk or admin")
    parsed = parse_claim(read_json(body))
    person_id = resolve_patient(session=session, ref=parsed.patient, expression="Claim.patient")
    provider_id = provider_id_of(session=session, reference=parsed.provider, expression="Claim.provider")
    if user.role == Role.CLERK and provider_id != user.provider_id:
        raise Forbidden(f"user {user.username}", "Claim.provider", "a clerk submits claims of its own facility only")
    provider = session.get_one(Provider, provider_id)
    digits = _claim_digits(
        session=session, person_id=person_id, provider_id=provider_id, on=parsed.service_date, currency=parsed.currency
    )
    try:
        claim_in = ClaimIn(
            claim_id=parsed.claim_id,
            person_id=person_id,
            provider_code=provider.code,
            service_date=parsed.service_date,
            care_type=parsed.care_type,
            diagnosis=parsed.diagnosis,
            days=parsed.days,
            total=to_minor(parsed.total, digits, "Claim.total"),
            eligible=to_minor(parsed.eligible, digits, "Claim.extension(eligible-amount)"),
            referred=parsed.referred,
        )
    except ValidationError as error:
        problem = from_pydantic(error, "Claim")
        raise FhirInputError(422, [("value", f"Claim: {problem.field}: {problem.reason}", None)]) from None
    with _rolled_back_on_error(session):
        claim, created = claims_service.submit_claim(
            session=session,
            claim=claim_in,
            actor=user.username,
            only_provider_id=user.provider_id if user.role == Role.CLERK else None,
        )
        resource = mapping.claim_response(settled_claim(session=session, claim=claim))
    return _answer(resource, status=201 if created else 200, headers={"Location": f"/fhir/ClaimResponse/{claim.id}"})


def _claim_digits(*, session: Session, person_id: int, provider_id: int, on: dt.date, currency: str | None) -> int:
    """Minor digits the Claim's amounts are read with: those of the policy in force for the
    person on the date (else of the schemes around the claim, see :func:`_fallback_money`).
    A Claim in another currency is refused (422)."""
    found, _eligibility = coverages_in_force(session=session, person_id=person_id, on=on)
    expected, digits = (
        (found[0].currency, found[0].minor_digits) if found else _fallback_money(session, person_id, provider_id)
    )
    if currency is not None and currency != expected:
        raise FhirInputError(422, [("value", f"Claim amounts must be in {expected}", "Claim.total.currency")])
    return digits


@router.get("/{resource_type}/{resource_id}", include_in_schema=False)
def unsupported_read(resource_type: str, resource_id: str) -> Response:
    raise FhirInputError(404, [("not-supported", "this resource type is not served here", None)])


@router.get("/{resource_type}", include_in_schema=False)
def unsupported_search(resource_type: str) -> Response:
    raise FhirInputError(404, [("not-supported", "this resource type is not served here", None)])
