"""FHIR R4 endpoints under ``/fhir``.

- ``GET /fhir/metadata``: the CapabilityStatement (no sign-in needed, as FHIR expects); the local
  CodeSystems, extension StructureDefinitions and the ``Claim/$submit`` OperationDefinition are
  public too, at their canonical paths.
- Reads: ``Patient``, ``Group`` (household), ``Organization`` (a provider, or ``payer-...`` the
  payer of a layer), ``Location`` (an area, or ``provider-<id>`` a provider's site), ``Coverage``
  (``<person>.<policy version>.<layer>``), ``Claim``, ``ClaimResponse``, ``ExplanationOfBenefit``
  (all three by the claim's row id), ``PaymentReconciliation``. Each carries ``meta.versionId``
  and ``meta.lastUpdated`` and an ``ETag`` (``If-None-Match`` answers 304).
- Searches (:mod:`equicover.fhir.search`: paging links, ``_count`` capped, ``_summary=count``,
  ``Prefer: handling=strict``): ``Patient?_id|identifier``, ``Coverage?beneficiary|patient[&date]``,
  ``ExplanationOfBenefit?patient|_id|identifier``, ``CodeSystem?url``, ``StructureDefinition?url``.
- ``POST /fhir/CoverageEligibilityRequest`` -> CoverageEligibilityResponse.
- ``POST /fhir/Claim`` -> the Claim as stored (``Location`` its absolute URL);
  ``POST /fhir/Claim/$submit`` -> its ClaimResponse. Both settle in real time through the claims
  service, idempotent on the Claim's identifier (201 when settled now, 200 when it is the stored
  answer of an earlier submission), and keep the Claim as sent (``equicover.claims.documents``).

Authentication and area scoping are those of the rest of the API (``equicover.http.deps``,
``equicover.auth.scoping``): reading a record outside the caller's area or facility is 403, an
unknown one 404. Every answer is ``application/fhir+json`` (another format asked for: 406, a body
in another: 415, :mod:`equicover.fhir.negotiation`); every error an OperationOutcome
(:class:`FhirRoute` turns the typed errors into one), never a bare 500 for bad input.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from equicover import __version__
from equicover import fhir_mapping as mapping
from equicover.auth.deps import CurrentUser
from equicover.auth.roles import Role
from equicover.claims import scoping as claim_scoping
from equicover.errors import EquicoverError, Forbidden, NotFound
from equicover.fhir import negotiation, terminology
from equicover.fhir.parsing import (
    FhirInputError,
    ParsedClaim,
    parse_claim,
    parse_eligibility_request,
    provider_id_of,
    read_json,
    resolve_patient,
    row_id,
    to_minor,
)
from equicover.fhir.search import Search, read_search, reference_id, token_parts
from equicover.http.deps import SessionDep
from equicover.providers import scoping as provider_scoping
from equicover.registry import scoping as registry_scoping

log = logging.getLogger("equicover.fhir")

_ERROR_ISSUE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
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
    roles, request parameters), with an OperationOutcome; refuses formats not served first.

    The session dependency commits after such an answer, so the endpoints that write roll their
    session back themselves before raising (:func:`_rolled_back_on_error`).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def fhir_handler(request: Request) -> Response:
            refused = negotiation.refusal(
                method=request.method, path=request.url.path, query=request.query_params, headers=request.headers
            )
            if refused is not None:
                status, reason = refused
                return _outcome_response(status, [("not-supported", reason, None)])
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


def _versioned(
    request: Request | None,
    data: dict[str, Any],
    last_updated: dt.datetime | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A read's answer: ``meta.versionId`` (a digest of the content, so it changes exactly when
    the resource does), ``meta.lastUpdated`` when the records say when, ``ETag`` and
    ``Last-Modified``; 304 when the client's ``If-None-Match`` names this version."""
    content = {key: value for key, value in data.items() if key != "meta"}
    version = hashlib.sha256(mapping.encode_json(content)).hexdigest()[:16]
    meta: dict[str, Any] = {"versionId": version}
    all_headers = {"ETag": f'W/"{version}"', **(headers or {})}
    if last_updated is not None:
        meta["lastUpdated"] = mapping.instant(last_updated)
        stamp = last_updated if last_updated.tzinfo else last_updated.replace(tzinfo=dt.UTC)
        all_headers["Last-Modified"] = format_datetime(stamp.astimezone(dt.UTC), usegmt=True)
    ordered = {"resourceType": content["resourceType"]}
    if "id" in content:
        ordered["id"] = content["id"]
    ordered["meta"] = meta
    ordered.update(content)
    if request is not None and status == 200:
        wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
        if all_headers["ETag"] in wanted or f'"{version}"' in wanted or "*" in wanted:
            return Response(status_code=304, headers=all_headers)
    return Response(mapping.encode_json(ordered), status_code=status, media_type=mapping.FHIR_JSON, headers=all_headers)


def _read(request: Request, resource: Any, last_updated: dt.datetime | None) -> Response:
    return _versioned(request, mapping.to_json_value(resource), last_updated)


def _latest(*stamps: dt.datetime | None) -> dt.datetime | None:
    found = [stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC) for stamp in stamps if stamp is not None]
    return max(found) if found else None


def _changed_at(session: Session, entity: str, entity_id: int) -> dt.datetime | None:
    """When the change log last saw the record."""
    from equicover.audit.models import ChangeLog

    return session.scalar(
        select(func.max(ChangeLog.at)).where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id)
    )


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
    406: {"description": "OperationOutcome: a format other than JSON asked for (_format, Accept)"},
    415: {"description": "OperationOutcome: a body that is not JSON"},
    422: {"description": "OperationOutcome: valid FHIR that breaks a rule (unknown patient, bad amount)"},
}


def _search_parameters(*names: str) -> dict[str, Any]:
    """The OpenAPI description of a search's parameters (read by :func:`_search`, not by FastAPI,
    so that repeats, OR lists and unknown parameters follow FHIR's rules)."""
    parameters = [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in names]
    parameters += [
        {"name": "_count", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
        {"name": "_offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
        {"name": "_summary", "in": "query", "required": False, "schema": {"type": "string", "enum": ["count"]}},
    ]
    return {"parameters": parameters}


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


def _search(request: Request, resource_type: str, supported: Iterable[str], sortable: Iterable[str] = ()) -> Search:
    """The search's parameters: those of the URL, and those of the form of a search by POST."""
    return read_search(
        resource_type=resource_type,
        base_url=_base_url(request),
        query=[*request.query_params.multi_items(), *getattr(request.state, "search_form", [])],
        supported=supported,
        prefer=request.headers.get("prefer"),
        sortable=sortable,
    )


def _posted_search(request: Request, body: bytes) -> None:
    """Keep the form of a search by POST (``<type>/_search``) for :func:`_search`."""
    try:
        request.state.search_form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise FhirInputError(
            400, [("invalid", f"the body of a search by POST must be {negotiation.FORM}", None)]
        ) from None


_FORM_BODY = {
    "requestBody": {
        "required": False,
        "content": {negotiation.FORM: {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}},
    }
}


def _counted_page(session: Session, search: Search, query: Select[Any], *order: Any) -> tuple[int, Sequence[Any]]:
    """How many rows ``query`` finds in all, and the page of them in ``order`` the search asks for
    (none for ``_count=0``, which asks for the total alone)."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if not search.limit:
        return total, []
    return total, session.scalars(query.order_by(*order).limit(search.limit).offset(search.offset)).all()


def _bundle(search: Search, resources: Sequence[Any], total: int) -> Response:
    """The searchset of ``resources`` (models, or JSON-ready values already validated)."""
    found = [resource if isinstance(resource, dict) else mapping.to_json_value(resource) for resource in resources]
    if search.elements:
        found = [mapping.subsetted(resource, search.elements) for resource in found]
    data = mapping.searchset_json(found, base_url=search.base_url, total=total, links=search.links(total))
    return Response(mapping.encode_json(data), media_type=mapping.FHIR_JSON)


def _token_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/v1/auth/token"


# ---------------------------------------------------------------- metadata and conformance resources


@router.get("/metadata", response_class=FhirResponse, responses=_RESPONSES, summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    return _answer(
        mapping.capability_statement(
            software_version=__version__, base_url=_base_url(request), token_url=_token_url(request)
        )
    )


def _zero_reasons() -> dict[str, str]:
    from equicover.claims import settle_and_store as claims_store

    return {
        claims_store.ZERO_NOT_COVERED: "Not covered on the date of care",
        claims_store.ZERO_NO_POLICY: "No policy in force on the date of care",
        claims_store.ZERO_NO_CONTRACT: "The facility has no contract with the scheme on that date",
        claims_store.ZERO_SERVICE_NOT_DESIGNATED: "The facility's contract does not cover this service",
    }


def _code_systems(session: Session) -> list[Any]:
    codes = terminology.policy_codes(session=session)
    by_id = {
        "layer": codes.layers,
        "care-type": codes.care_types,
        "allowance": codes.allowances,
        "adjudication": {"provider-writeoff": "Provider write-off"},
        "zero-reason": _zero_reasons(),
    }
    return [mapping.code_system(system, by_id[system.id]) for system in mapping.LOCAL_CODE_SYSTEMS] + _category_systems(
        session
    )


def _category_systems(session: Session) -> list[Any]:
    """The registry's categories, and those each programme's targeting rules give (coverage-category codes)."""
    from equicover.registry.service import list_categories
    from equicover.targeting.service import programme_categories

    labels = {category.code: category.label for category in list_categories(session=session)}
    systems = [mapping.code_system(mapping.category_code_system_of(None), labels)]
    for programme, codes in programme_categories(session=session).items():
        systems.append(
            mapping.code_system(
                mapping.category_code_system_of(programme), {code: labels.get(code, code) for code in codes}
            )
        )
    return systems


def _definitions(session: Session, resource_type: str) -> list[Any]:
    if resource_type == "CodeSystem":
        return _code_systems(session)
    return [mapping.extension_definition(extension) for extension in mapping.LOCAL_EXTENSIONS]


def _read_definition(request: Request, session: Session, resource_type: str, resource_id: str) -> Response:
    found = next((item for item in _definitions(session, resource_type) if item.id == resource_id), None)
    if found is None:
        raise _not_found(resource_type, resource_id)
    return _read(request, found, None)


def _search_definitions(request: Request, session: Session, resource_type: str) -> Response:
    search = _search(request, resource_type, ("url",))
    items = _definitions(session, resource_type)
    for values in search.values("url"):
        items = [item for item in items if item.url in values]
    return _bundle(search, search.window(items), len(items))


@router.get(
    "/CodeSystem/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="A local CodeSystem"
)
def read_code_system(request: Request, resource_id: str, session: SessionDep) -> Response:
    return _read_definition(request, session, "CodeSystem", resource_id)


@router.get(
    "/CodeSystem",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("url"),
    summary="Search the local CodeSystems by canonical URL",
)
def search_code_systems(request: Request, session: SessionDep) -> Response:
    return _search_definitions(request, session, "CodeSystem")


@router.get(
    "/StructureDefinition/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="A local extension's StructureDefinition",
)
def read_structure_definition(request: Request, resource_id: str, session: SessionDep) -> Response:
    return _read_definition(request, session, "StructureDefinition", resource_id)


@router.get(
    "/StructureDefinition",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("url"),
    summary="Search the local extensions by canonical URL",
)
def search_structure_definitions(request: Request, session: SessionDep) -> Response:
    return _search_definitions(request, session, "StructureDefinition")


@router.get(
    "/OperationDefinition/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="The Claim/$submit operation",
)
def read_operation_definition(request: Request, resource_id: str) -> Response:
    definition = mapping.submit_operation_definition()
    if resource_id != definition.id:
        raise _not_found("OperationDefinition", resource_id)
    return _read(request, definition, None)


# ---------------------------------------------------------------- registry and providers


def _person(session: Session, user: Any, person_id: int) -> Any:
    from equicover.registry.service import get_person

    registry_scoping.ensure_person_visible(session=session, user=user, person_id=person_id)
    return get_person(session=session, person_id=person_id)


def _category_holdings(session: Session, person_ids: Sequence[int]) -> dict[int, list[mapping.CategoryHolding]]:
    """Each person's category holdings (oldest first), with the programme and round that gave them."""
    from equicover.registry.models import Category, PersonCategory
    from equicover.targeting.service import CategorySource, category_source

    holdings: dict[int, list[mapping.CategoryHolding]] = {}
    if not person_ids:
        return holdings
    sources: dict[str | None, CategorySource] = {}
    rows = session.execute(
        select(PersonCategory, Category.label)
        .join(Category, Category.code == PersonCategory.category)
        .where(PersonCategory.person_id.in_(list(person_ids)))
        .order_by(PersonCategory.person_id, PersonCategory.valid_from, PersonCategory.id)
    )
    for row, label in rows:
        if row.source not in sources:
            sources[row.source] = category_source(session=session, source=row.source)
        origin = sources[row.source]
        holdings.setdefault(row.person_id, []).append(
            mapping.CategoryHolding(
                category=row.category,
                label=label,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                source=row.source,
                programme=origin.programme,
                round_id=origin.round_id,
            )
        )
    return holdings


@router.get("/Patient/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a Patient")
def read_patient(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    person = _person(session, user, _int_id("Patient", resource_id))
    categories = _category_holdings(session, [person.id]).get(person.id, [])
    return _read(request, mapping.patient(person, categories), _changed_at(session, "persons", person.id))


def _identifier_condition(values: Sequence[str]) -> ColumnElement[bool]:
    """One ``identifier`` parameter (an OR list of tokens) as a condition on persons."""
    from equicover.registry.models import Person

    found: list[ColumnElement[bool]] = []
    for value in values:
        system, code = token_parts(value)
        if not code:
            raise FhirInputError(400, [("invalid", "identifier needs a value: <system>|<value>", "identifier")])
        if system is None:
            found.append(Person.national_id == code)
        elif system == mapping.PERSON_SYSTEM:
            person_id = row_id(code)
            if person_id is not None:
                found.append(Person.id == person_id)
        else:
            id_type = mapping.id_type_of_system(system)
            if id_type:
                found.append(and_(Person.id_type == id_type, Person.national_id == code))
    return or_(*found) if found else false()


def _id_condition(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    ids = [found for found in (row_id(value) for value in values) if found is not None]
    return column.in_(ids) if ids else false()


@router.get(
    "/Patient",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("identifier", "_id", "_elements"),
    summary="Search Patients by identifier or id",
)
def search_patients(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.registry.models import Person

    search = _search(request, "Patient", ("identifier", "_id"))
    if not search.has("identifier", "_id"):
        raise FhirInputError(
            400, [("required", "search parameter identifier=<system>|<value> (or _id) is required", None)]
        )
    query = select(Person).where(registry_scoping.persons_filter(user))
    for values in search.values("_id"):
        query = query.where(_id_condition(Person.id, values))
    for values in search.values("identifier"):
        query = query.where(_identifier_condition(values))
    total, persons = _counted_page(session, search, query, Person.id)
    categories = _category_holdings(session, [person.id for person in persons])
    return _bundle(search, [mapping.patient(person, categories.get(person.id, [])) for person in persons], total)


@router.post(
    "/Patient/_search",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_FORM_BODY,
    summary="Search Patients by POST (parameters as a form)",
)
def search_patients_by_post(request: Request, body: RawBody, session: SessionDep, user: CurrentUser) -> Response:
    _posted_search(request, body)
    return search_patients(request, session, user)


def _round_group(request: Request, resource_id: str, session: Session, user: Any) -> Response:
    """A targeting round's list of one category (``targeting-<round>-<category>``)."""
    from equicover.registry.models import Category
    from equicover.targeting import scoping as targeting_scoping
    from equicover.targeting import service as targeting

    parsed = mapping.parse_round_group_id(resource_id)
    if parsed is None:
        raise _not_found("Group", resource_id)
    round_id, category_id = parsed
    targeting_scoping.ensure_round_visible(session=session, user=user, round_id=round_id)
    round_ = targeting.get_round(session=session, round_id=round_id)
    if round_.approved_on is None:
        raise _not_found("Group", resource_id)
    rules = targeting.rules_of(round_)
    granted = sorted({code for outcome in rules.outcomes for code in outcome.grants})
    category = next((code for code in granted if code.replace("_", "-") == category_id), None)
    if category is None:
        raise _not_found("Group", resource_id)
    label = session.scalar(select(Category.label).where(Category.code == category))
    group = mapping.round_category_group(
        round_id=round_id,
        programme=rules.id,
        category=category,
        label=label,
        area_location_id=round_.location_id,
        approved_on=round_.approved_on,
        members=targeting.round_category_members(session=session, round_id=round_id, category=category),
    )
    return _read(request, group, _changed_at(session, "targeting_rounds", round_id))


@router.get(
    "/Group/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a household as a Group"
)
def read_group(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.registry.models import Household
    from equicover.registry.service import household_members

    if resource_id.startswith("targeting-"):
        return _round_group(request, resource_id, session, user)
    household_id = _int_id("Group", resource_id)
    registry_scoping.ensure_household_visible(session=session, user=user, household_id=household_id)
    household = session.get(Household, household_id)
    return _read(
        request,
        mapping.household_group(household, household_members(session=session, household_id=household_id)),
        _changed_at(session, "households", household_id),
    )


@router.get(
    "/Organization/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read a provider or a payer as an Organization",
)
def read_organization(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.providers.models import Provider

    if resource_id.startswith("payer-"):
        # Payers are named by the policies: public reference data, like the areas.
        payer = terminology.payer(session=session, organization_id=resource_id)
        if payer is None:
            raise _not_found("Organization", resource_id)
        return _read(
            request,
            mapping.payer_organization(
                scheme_code=payer.scheme_code, scheme_name=payer.scheme_name, layer_id=payer.layer_id, payer=payer.payer
            ),
            None,
        )
    provider_id = _int_id("Organization", resource_id)
    provider_scoping.ensure_provider_visible(session=session, user=user, provider_id=provider_id)
    return _read(
        request,
        mapping.provider_organization(session.get(Provider, provider_id)),
        _changed_at(session, "providers", provider_id),
    )


@router.get(
    "/Organization",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("identifier", "type", "_elements"),
    summary="Search Organizations: payers and providers, by identifier or type (pay, prov)",
)
def search_organizations(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.providers.models import Provider

    search = _search(request, "Organization", ("identifier", "type"))
    if not search.has("identifier", "type"):
        raise FhirInputError(
            400, [("required", "search parameter identifier=<system>|<value> (or type=pay|prov) is required", None)]
        )
    payers = terminology.payers(session=session)
    query = select(Provider).where(provider_scoping.providers_filter(user))
    for values in search.values("type"):
        types = {token_parts(value)[1] for value in values}
        payers = payers if "pay" in types else []
        query = query if "prov" in types else query.where(false())
    for values in search.values("identifier"):
        tokens = [token_parts(value) for value in values]
        wanted = {code for system, code in tokens if system in (None, mapping.PAYER_SYSTEM)}
        payers = [payer for payer in payers if f"{payer.scheme_code}/{payer.layer_id}" in wanted]
        provider_codes = [code for system, code in tokens if system in (None, mapping.PROVIDER_SYSTEM)]
        query = query.where(Provider.code.in_(provider_codes) if provider_codes else false())
    providers = session.scalars(query.order_by(Provider.id)).all()
    found = [
        mapping.payer_organization(
            scheme_code=payer.scheme_code, scheme_name=payer.scheme_name, layer_id=payer.layer_id, payer=payer.payer
        )
        for payer in payers
    ] + [mapping.provider_organization(provider) for provider in providers]
    return _bundle(search, search.window(found), len(found))


@router.get(
    "/Location/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read an area or a provider's site",
)
def read_location(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.providers.models import Provider
    from equicover.registry.models import Location

    if resource_id.startswith("provider-"):
        provider_id = _int_id("Location", resource_id.removeprefix("provider-"))
        provider_scoping.ensure_provider_visible(session=session, user=user, provider_id=provider_id)
        return _read(
            request,
            mapping.provider_location(session.get(Provider, provider_id)),
            _changed_at(session, "providers", provider_id),
        )
    # Areas (country, province, district, commune) are public reference data: any signed-in user.
    location = session.get(Location, _int_id("Location", resource_id))
    if location is None:
        raise _not_found("Location", resource_id)
    return _read(request, mapping.area_location(location), _changed_at(session, "locations", location.id))


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
    """The person's coverage on ``on`` from the claims service's eligibility answer, each with the
    number of the member card that covers the person in the scheme that day."""
    from equicover.cards.service import card_number_for
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
                card_number=card_number_for(session=session, person_id=person_id, scheme_id=version.scheme_id, on=on),
            )
        )
    return found, answer


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _coverage_changed_at(session: Session, person_id: int, version: Any) -> dt.datetime | None:
    """A Coverage changes with its policy version and with the person's enrolments."""
    from equicover.audit.models import ChangeLog
    from equicover.enrolment.models import Enrolment

    enrolment_ids = select(Enrolment.id).where(Enrolment.person_id == person_id).scalar_subquery()
    enrolled = session.scalar(
        select(func.max(ChangeLog.at)).where(ChangeLog.entity == "enrolments", ChangeLog.entity_id.in_(enrolment_ids))
    )
    return _latest(version.uploaded_at, enrolled)


@router.get(
    "/Coverage/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read the Coverage of one layer",
)
def read_coverage(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
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
                    return _read(
                        request,
                        mapping.layer_coverage(coverage, layer),
                        _coverage_changed_at(session, person_id, version),
                    )
    raise _not_found("Coverage", resource_id)


def _patients_readable(session: Session, user: Any, search: Search) -> list[int]:
    """The patients the ``patient`` parameter names, each refused as a read of it would be when the
    caller may not read it."""
    people = _patients_searched(search, "patient")
    for person_id in people:
        _person(session, user, person_id)
    return people


def _patients_searched(search: Search, *names: str) -> list[int]:
    """The person ids the reference parameters ``names`` name: each occurrence an OR list, the
    occurrences together an AND. An unknown id is 404, as a read of it would be."""
    chosen: set[int] | None = None
    for name in names:
        for values in search.values(name):
            ids = set()
            for value in values:
                person_id = reference_id(value, "Patient", name=name, base_url=search.base_url)
                if person_id is None:
                    raise _not_found("Patient", value.rsplit("/", 1)[-1])
                ids.add(person_id)
            chosen = ids if chosen is None else chosen & ids
    return sorted(chosen or ())


def _date_param(search: Search) -> dt.date | None:
    found = None
    for values in search.values("date"):
        for value in values:
            text = value.removeprefix("eq")
            if text[:2].isalpha():
                raise FhirInputError(400, [("not-supported", "date: only the prefix eq is supported", "date")])
            try:
                day = dt.date.fromisoformat(text) if len(text) == 10 else None
            except ValueError:
                day = None
            if day is None:
                raise FhirInputError(400, [("invalid", "date must be a day: YYYY-MM-DD", "date")])
            if found is not None and day != found:
                raise FhirInputError(400, [("not-supported", "date: one day per search", "date")])
            found = day
    return found


@router.get(
    "/Coverage",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("beneficiary", "patient", "identifier", "date", "_elements"),
    summary="Search Coverage by beneficiary (or patient), or by member card number, on a date (default: today)",
)
def search_coverage(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    search = _search(request, "Coverage", ("beneficiary", "patient", "identifier", "date"))
    if not search.has("beneficiary", "patient", "identifier"):
        raise FhirInputError(
            400,
            [("required", "search parameter beneficiary=Patient/<id> (or identifier=<card system>|<number>)", None)],
        )
    on = _date_param(search) or _today()
    people: list[int] | None = (
        _patients_searched(search, "beneficiary", "patient") if search.has("beneficiary", "patient") else None
    )
    schemes: set[int] | None = None
    if search.has("identifier"):
        carded, schemes = _card_holders(session, search)
        people = sorted(carded if people is None else set(people) & carded)
    resources = []
    for person_id in people or []:
        _person(session, user, person_id)
        found, _eligibility = coverages_in_force(session=session, person_id=person_id, on=on)
        if schemes is not None:
            found = [
                coverage for coverage in found if _scheme_of_version(session, coverage.policy_version_id) in schemes
            ]
        resources += [resource for coverage in found for resource in mapping.coverages(coverage)]
    return _bundle(search, search.window(resources), len(resources))


def _scheme_of_version(session: Session, version_id: int) -> int | None:
    version = _version(session, version_id)
    return version.scheme_id if version is not None else None


def _card_holders(session: Session, search: Search) -> tuple[set[int], set[int]]:
    """The persons and schemes the ``identifier`` parameters (member card numbers) name: each
    occurrence an OR list, the occurrences together an AND. A number no card has finds nothing."""
    from equicover.cards.service import holders_of
    from equicover.enrolment.models import Scheme

    persons: set[int] | None = None
    schemes: set[int] = set()
    for values in search.values("identifier"):
        found: set[int] = set()
        for value in values:
            system, number = token_parts(value)
            if not number:
                raise FhirInputError(
                    400, [("invalid", "identifier needs a value: <system>|<card number>", "identifier")]
                )
            holders = holders_of(session=session, number=number)
            if holders is None:
                continue
            scheme_id, person_ids = holders
            if system is not None:
                code = session.scalar(select(Scheme.code).where(Scheme.id == scheme_id))
                if system != mapping.card_system(code or ""):
                    continue
            schemes.add(scheme_id)
            found.update(person_ids)
        persons = found if persons is None else persons & found
    return persons or set(), schemes


@router.post(
    "/Coverage/_search",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_FORM_BODY,
    summary="Search Coverage by POST (parameters as a form)",
)
def search_coverage_by_post(request: Request, body: RawBody, session: SessionDep, user: CurrentUser) -> Response:
    _posted_search(request, body)
    return search_coverage(request, session, user)


# ---------------------------------------------------------------- referral letters


def _service_request(session: Session, letter: Any) -> Any:
    """The letter with its validity: the days of the policy covering its patient on the issue date."""
    from equicover.claims import service as claims_service
    from equicover.referrals import service as referrals_service

    return mapping.service_request(
        mapping.ReferralLetterFacts(
            id=letter.id,
            number=letter.number,
            person_id=letter.person_id,
            from_provider_id=letter.from_provider_id,
            to_provider_id=letter.to_provider_id,
            to_level=letter.to_level,
            diagnosis=letter.diagnosis,
            issued_on=letter.issued_on,
            status=letter.status,
            valid_until=referrals_service.valid_until(
                letter,
                claims_service.letter_valid_days(session=session, person_id=letter.person_id, on=letter.issued_on),
            ),
            counter_on=letter.counter_on,
        )
    )


@router.get(
    "/ServiceRequest/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read a referral letter as a ServiceRequest",
)
def read_service_request(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.referrals.service import letter_by_id

    try:
        letter = letter_by_id(session=session, letter_id=_int_id("ServiceRequest", resource_id))
    except NotFound:
        raise _not_found("ServiceRequest", resource_id) from None
    _person(session, user, letter.person_id)  # a letter is read by those who may read its patient
    return _read(
        request,
        _service_request(session, letter),
        _latest(letter.issued_at, _changed_at(session, "referral_letters", letter.id)),
    )


@router.get(
    "/ServiceRequest",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("patient", "identifier", "_elements"),
    summary="Search referral letters (ServiceRequest) by patient or by number",
)
def search_service_requests(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.referrals.models import ReferralLetter

    search = _search(request, "ServiceRequest", ("patient", "identifier"))
    if not search.has("patient", "identifier"):
        raise FhirInputError(
            400, [("required", "search parameter patient=Patient/<id> (or identifier) is required", None)]
        )
    query = select(ReferralLetter)
    if search.has("patient"):
        query = query.where(ReferralLetter.person_id.in_(_patients_readable(session, user, search)))
    for values in search.values("identifier"):
        numbers = []
        for value in values:
            system, number = token_parts(value)
            if not number:
                raise FhirInputError(400, [("invalid", "identifier needs a value: <system>|<number>", "identifier")])
            if system in (None, mapping.REFERRAL_LETTER_SYSTEM):
                numbers.append(number.strip().upper())
        query = query.where(ReferralLetter.number.in_(numbers))
    from equicover.registry.models import Person

    visible = select(Person.id).where(registry_scoping.persons_filter(user))
    letters = session.scalars(query.where(ReferralLetter.person_id.in_(visible)).order_by(ReferralLetter.id)).all()
    resources = [_service_request(session, letter) for letter in letters]
    return _bundle(search, search.window(resources), len(resources))


def _referral_letter_number(session: Session, parsed: ParsedClaim, base_url: str) -> str | None:
    """The number of the letter ``Claim.referral`` names: a ``ServiceRequest/<id>`` reference (or its
    absolute URL) or an identifier of the letters' system; None for a referral given as text alone."""
    from equicover.referrals.service import letter_by_id

    referral = parsed.referral
    if referral is None:
        return None
    reference = referral.get("reference")
    if reference:
        text = str(reference).removeprefix(base_url)
        letter_id = row_id(text.removeprefix("ServiceRequest/")) if text.startswith("ServiceRequest/") else None
        if letter_id is None:
            raise FhirInputError(
                422, [("value", "Claim.referral must reference a ServiceRequest (a referral letter)", "Claim.referral")]
            )
        try:
            return letter_by_id(session=session, letter_id=letter_id).number
        except NotFound:
            raise FhirInputError(
                422, [("value", f"Claim.referral: no referral letter {letter_id}", "Claim.referral.reference")]
            ) from None
    identifier = referral.get("identifier") or {}
    value = identifier.get("value") if isinstance(identifier, dict) else None
    if value:
        system = identifier.get("system")
        if system not in (None, mapping.REFERRAL_LETTER_SYSTEM):
            raise FhirInputError(
                422,
                [("value", f"Claim.referral.identifier.system must be {mapping.REFERRAL_LETTER_SYSTEM}",
                  "Claim.referral.identifier")],
            )  # fmt: skip
        return str(value).strip().upper()
    return None


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
            request_identifier=parsed.request_identifier,
            purpose=parsed.purpose,
            not_covered_reason=reason,
        )
    )


# ---------------------------------------------------------------- claims


def _scheme_code(session: Session, scheme_id: int | None) -> str | None:
    from equicover.enrolment.models import Scheme

    return None if scheme_id is None else session.scalar(select(Scheme.code).where(Scheme.id == scheme_id))


def _submitted(session: Session, claim: Any, digits: int) -> tuple[tuple[mapping.SubmittedItem, ...], tuple[Any, ...]]:
    """The items and insurance of the Claim the provider sent, if it came in as FHIR."""
    from equicover.claims.documents import claim_document

    document = claim_document(session=session, claim_pk=claim.id)
    if document is None:
        return (), ()
    sent = json.loads(document.body, parse_float=Decimal)
    items = tuple(
        mapping.SubmittedItem(
            sequence=int(item["sequence"]),
            net=to_minor(item["net"]["value"], digits, "Claim.item.net"),
            product_or_service=item.get("productOrService") or {"text": claim.care_type},
            serviced_date=item.get("servicedDate"),
        )
        for item in sent.get("item") or []
    )
    return items, tuple(sent.get("insurance") or ())


def settled_claim(
    *, session: Session, claim: Any, balances_cache: dict[Any, Any] | None = None
) -> mapping.SettledClaim:
    """A stored claim with what the FHIR resources need: its payments, currency, coverages,
    payers, the items and insurance it was sent with, and its capped layers' standing."""
    from equicover.claims.service import payments_of
    from equicover.referrals.service import letter_of_claim

    payments = tuple(payments_of(session=session, claim_pk=claim.id))
    version = _version(session, claim.policy_version_id)
    if version is None:
        # Settled with nothing paid (no coverage in force): amounts in the currency of the
        # schemes around the claim (see _fallback_money).
        currency, digits = _fallback_money(session, claim.person_id, claim.provider_id)
        items, insurance = _submitted(session, claim, digits)
        return mapping.SettledClaim(
            claim=claim,
            payments=payments,
            currency=currency,
            minor_digits=digits,
            items=items,
            insurance=insurance,
            referral_letter_id=letter_of_claim(session=session, claim_pk=claim.id),
        )
    payments = _in_cascade_order(version, payments)
    layers = [payment for payment in payments if payment.kind == "layer"]
    digits = _digits_of(version)
    items, insurance = _submitted(session, claim, digits)
    key = (claim.person_id, claim.service_date)
    if balances_cache is not None and key in balances_cache:
        standing = balances_cache[key]
    else:
        found, _answer = coverages_in_force(session=session, person_id=claim.person_id, on=claim.service_date)
        standing = next((coverage for coverage in found if coverage.policy_version_id == version.id), None)
        if balances_cache is not None:
            balances_cache[key] = standing
    return mapping.SettledClaim(
        claim=claim,
        payments=payments,
        currency=version.currency,
        minor_digits=digits,
        policy_id=version.policy_id,
        policy_name=version.name,
        coverage_ids=tuple(mapping.coverage_id(claim.person_id, version.id, payment.item_id) for payment in layers),
        layer_payers={payment.item_id: payment.payer for payment in layers},
        scheme_code=_scheme_code(session, version.scheme_id),
        items=items,
        insurance=insurance,
        balances=standing.layers if standing is not None else (),
        benefit_year=(standing.benefit_year_start, standing.benefit_year_end) if standing is not None else None,
        referral_letter_id=letter_of_claim(session=session, claim_pk=claim.id) if claim.referred else None,
    )


def _in_cascade_order(version: Any, payments: tuple[Any, ...]) -> tuple[Any, ...]:
    """The layers' payments in the order the policy's cascade runs them (the first is the
    insurer), then the allowances."""
    from equicover.claims.service import loaded_policy

    position = {layer.id: index for index, layer in enumerate(loaded_policy(version).layers)}
    return tuple(
        sorted(
            payments,
            key=lambda payment: (payment.kind != "layer", position.get(payment.item_id, len(position)), payment.id),
        )
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


def _claim_changed_at(claim: Any) -> dt.datetime | None:
    return _latest(claim.submitted_at, claim.reversed_at)


def _claim_as_stored(session: Session, claim: Any) -> dict[str, Any]:
    """The Claim as the provider sent it (with our id and its status now), else rebuilt from
    the stored claim."""
    from fhir.resources.R4B.claim import Claim as FhirClaim

    from equicover.claims.documents import claim_document

    document = claim_document(session=session, claim_pk=claim.id)
    if document is None:
        return mapping.to_json_value(mapping.claim_resource(settled_claim(session=session, claim=claim)))
    sent = json.loads(document.body, parse_float=Decimal)
    sent.pop("meta", None)
    sent.pop("text", None)  # a narrative of ours would have to say what changed; we add none
    sent["id"] = str(claim.id)
    sent["status"] = "cancelled" if claim.status == "reversed" else "active"
    return mapping.to_json_value(FhirClaim.model_validate(sent))


@router.get("/Claim/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a Claim")
def read_claim(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    claim = _stored_claim(session, user, "Claim", resource_id)
    return _versioned(request, _claim_as_stored(session, claim), _claim_changed_at(claim))


@router.get(
    "/ClaimResponse/{resource_id}", response_class=FhirResponse, responses=_RESPONSES, summary="Read a ClaimResponse"
)
def read_claim_response(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    claim = _stored_claim(session, user, "ClaimResponse", resource_id)
    return _read(request, mapping.claim_response(settled_claim(session=session, claim=claim)), _claim_changed_at(claim))


def _member_claims_changed_at(session: Session, person_id: int) -> dt.datetime | None:
    """An ExplanationOfBenefit's balances move with every claim of the member."""
    from equicover.claims.models import Claim

    submitted, reversed_ = session.execute(
        select(func.max(Claim.submitted_at), func.max(Claim.reversed_at)).where(Claim.person_id == person_id)
    ).one()
    return _latest(submitted, reversed_)


@router.get(
    "/ExplanationOfBenefit/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read an ExplanationOfBenefit",
)
def read_explanation_of_benefit(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    claim = _stored_claim(session, user, "ExplanationOfBenefit", resource_id)
    return _read(
        request,
        mapping.explanation_of_benefit(settled_claim(session=session, claim=claim)),
        _member_claims_changed_at(session, claim.person_id),
    )


def _claim_column(name: str) -> Callable[[], Any]:
    def column() -> Any:
        from equicover.claims.models import Claim

        return getattr(Claim, name)

    return column


# _sort keys of an ExplanationOfBenefit search: when it was created (the claim's submission), the
# billable period's start, the id.
_EOB_SORT: dict[str, Callable[[], Any]] = {
    "created": _claim_column("submitted_at"),
    "service-date": _claim_column("service_date"),
    "_id": _claim_column("id"),
}


@router.get(
    "/ExplanationOfBenefit",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_search_parameters("patient", "_id", "identifier", "_sort", "_elements"),
    summary="Search ExplanationOfBenefit by patient, id or bill number",
)
def search_explanation_of_benefit(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.claims.models import Claim

    search = _search(request, "ExplanationOfBenefit", ("patient", "_id", "identifier"), _EOB_SORT)
    if not search.has("patient", "_id", "identifier"):
        raise FhirInputError(400, [("required", "search parameter patient=Patient/<id> (or _id) is required", None)])
    query = select(Claim).where(claim_scoping.claims_filter(user))
    if search.has("patient"):
        query = query.where(Claim.person_id.in_(_patients_readable(session, user, search)))
    for values in search.values("_id"):
        query = query.where(_id_condition(Claim.id, values))
    for values in search.values("identifier"):
        numbers = []
        for value in values:
            system, code = token_parts(value)
            if system in (None, mapping.CLAIM_SYSTEM) and code:
                numbers.append(code)
        query = query.where(Claim.claim_id.in_(numbers) if numbers else false())
    order = [
        column.desc() if descending else column.asc()
        for key, descending in search.sort
        for column in (_EOB_SORT[key](),)
    ] or [Claim.service_date]
    total, claims = _counted_page(session, search, query, *order, Claim.id)
    cache: dict[Any, Any] = {}
    return _bundle(
        search,
        [
            mapping.explanation_of_benefit_json(settled_claim(session=session, claim=claim, balances_cache=cache))
            for claim in claims
        ],
        total,
    )


@router.post(
    "/ExplanationOfBenefit/_search",
    response_class=FhirResponse,
    responses=_RESPONSES,
    openapi_extra=_FORM_BODY,
    summary="Search ExplanationOfBenefit by POST (parameters as a form)",
)
def search_explanation_of_benefit_by_post(
    request: Request, body: RawBody, session: SessionDep, user: CurrentUser
) -> Response:
    _posted_search(request, body)
    return search_explanation_of_benefit(request, session, user)


@router.get(
    "/PaymentReconciliation/{resource_id}",
    response_class=FhirResponse,
    responses=_RESPONSES,
    summary="Read a payment batch to a provider as a PaymentReconciliation",
)
def read_payment_reconciliation(request: Request, resource_id: str, session: SessionDep, user: CurrentUser) -> Response:
    from equicover.payments import service as payments  # the payment batches (funds work) build the resource

    batch = payments.get_batch(session=session, batch_id=_int_id("PaymentReconciliation", resource_id))
    provider_scoping.ensure_provider_visible(session=session, user=user, provider_id=batch.provider_id)
    data = payments.payment_reconciliation(session=session, batch_id=batch.id)
    return _versioned(request, data, _latest(batch.created_at, batch.approved_at))


CLAIM_SUBMITTERS = frozenset({Role.CLERK, Role.ADMIN})
_SUBMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_RESPONSES,
    201: {"content": {mapping.FHIR_JSON: {"schema": _RESOURCE_SCHEMA}}, "description": "Settled now"},
}


def _check_insurance(session: Session, parsed: ParsedClaim, person_id: int, base_url: str) -> None:
    """Each Coverage the Claim names (``Coverage/<id>`` or its absolute URL here) must be the
    patient's, in force on the date of care; an insurance named only by text or identifier (a
    card) is kept as sent."""
    in_force: set[str] | None = None
    for index, entry in enumerate(parsed.insurance):
        expression = f"Claim.insurance[{index}].coverage"
        reference = (entry.get("coverage") or {}).get("reference")
        if reference is None:
            continue
        text = str(reference).removeprefix(base_url)
        coverage_id = text.removeprefix("Coverage/") if text.startswith("Coverage/") else None
        parsed_id = mapping.parse_coverage_id(coverage_id) if coverage_id else None
        if in_force is None:
            found, _answer = coverages_in_force(session=session, person_id=person_id, on=parsed.service_date)
            in_force = {
                mapping.coverage_id(coverage.person_id, coverage.policy_version_id, layer.layer_id)
                for coverage in found
                for layer in coverage.layers
            }
        if parsed_id is None or coverage_id not in in_force:
            raise FhirInputError(
                422,
                [("value", f"{expression} is not a Coverage of the patient in force on the date of care", expression)],
            )


def _settle(request: Request, body: bytes, session: Session, user: Any) -> tuple[Any, bool]:
    """Parse, check and settle a submitted Claim; keep it as sent. (stored claim, created)."""
    from equicover.claims import service as claims_service
    from equicover.claims.documents import keep_claim_document
    from equicover.claims.schemas import ClaimIn
    from equicover.errors import from_pydantic
    from equicover.providers.models import Provider

    if user.role not in CLAIM_SUBMITTERS:
        raise Forbidden(f"user {user.username}", "role", "submitting claims needs the role clerk or admin")
    data = read_json(body)
    parsed = parse_claim(data)
    person_id = resolve_patient(session=session, ref=parsed.patient, expression="Claim.patient")
    provider_id = provider_id_of(session=session, reference=parsed.provider, expression="Claim.provider")
    if user.role == Role.CLERK and provider_id != user.provider_id:
        raise Forbidden(f"user {user.username}", "Claim.provider", "a clerk submits claims of its own facility only")
    provider = session.get_one(Provider, provider_id)
    digits = _claim_digits(
        session=session, person_id=person_id, provider_id=provider_id, on=parsed.service_date, currency=parsed.currency
    )
    for index, item in enumerate(parsed.items):
        to_minor(item.net, digits, f"Claim.item[{index}].net")
    _check_insurance(session, parsed, person_id, _base_url(request))
    letter_number = _referral_letter_number(session, parsed, _base_url(request))
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
            referred=parsed.referred and letter_number is None,
            referral_letter=letter_number,
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
        if created:
            keep_claim_document(
                session=session,
                claim_pk=claim.id,
                media_type=mapping.FHIR_JSON,
                body=mapping.encode_json(data).decode("utf-8"),
                actor=user.username,
            )
    return claim, created


@router.post(
    "/Claim",
    response_class=FhirResponse,
    responses=_SUBMIT_RESPONSES,
    openapi_extra=_RESOURCE_BODY,
    summary="Create a Claim: settled in real time and stored; answered with the Claim as stored (idempotent on "
    "Claim.identifier)",
)
def create_claim(request: Request, body: RawBody, session: SessionDep, user: CurrentUser) -> Response:
    claim, created = _settle(request, body, session, user)
    with _rolled_back_on_error(session):
        data = _claim_as_stored(session, claim)
    return _versioned(
        None,
        data,
        _claim_changed_at(claim),
        status=201 if created else 200,
        headers={"Location": f"{_base_url(request)}Claim/{claim.id}"},
    )


@router.post(
    "/Claim/$submit",
    response_class=FhirResponse,
    responses=_SUBMIT_RESPONSES,
    openapi_extra=_RESOURCE_BODY,
    summary="Submit a Claim for real-time settlement: answered with its ClaimResponse (idempotent on Claim.identifier)",
)
def submit_claim(request: Request, body: RawBody, session: SessionDep, user: CurrentUser) -> Response:
    claim, created = _settle(request, body, session, user)
    with _rolled_back_on_error(session):
        resource = mapping.claim_response(settled_claim(session=session, claim=claim))
    return _versioned(
        None,
        mapping.to_json_value(resource),
        _claim_changed_at(claim),
        status=201 if created else 200,
        headers={"Location": f"{_base_url(request)}ClaimResponse/{claim.id}"},
    )


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
