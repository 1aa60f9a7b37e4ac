"""Domain rows -> FHIR R4 resources (``fhir.resources.R4B`` models). Pure functions: no session,
no I/O; the caller fetches the rows (through the domain services) and passes them in.

Every function builds a plain dict and validates it with the resource's model class, so what we
return has passed ``fhir.resources`` validation. Rows are read by attribute only (duck typing), so
ORM rows and simple stand-ins both work.

Identifiers and local code systems all live under :data:`BASE`:

- ``{BASE}/sid/id/<id_type>``: a person's national document, one system per ID type
  (``.../sid/id/vneid`` VNeID, ``.../sid/id/idpoor`` IDPoor, ``.../sid/id/cni`` ...).
- ``{BASE}/sid/person``, ``/household``, ``/provider``, ``/location``: equicover's own codes.
- ``{BASE}/sid/claim``: the provider's claim id (the idempotency key of ``POST /fhir/Claim``).
- ``{BASE}/CodeSystem/layer``: layer ids of a policy (one ``item.adjudication`` per layer).
- ``{BASE}/CodeSystem/allowance``, ``/care-type``, ``/adjudication`` (provider write-off).

Money: integer minor units become a FHIR ``Money`` whose ``value`` is an exact ``Decimal`` with the
currency's minor digits (``123450`` CNY -> ``1234.50``). ``fhir.resources`` itself would write
decimals as binary floats; :func:`to_json` writes them exactly, digit for digit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from equicover.money import format_money

_Model = TypeVar("_Model", bound=FHIRAbstractModel)

BASE = "https://equicover.org/fhir"
FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"

NATIONAL_ID_SYSTEM_PREFIX = f"{BASE}/sid/id/"
PERSON_SYSTEM = f"{BASE}/sid/person"
HOUSEHOLD_SYSTEM = f"{BASE}/sid/household"
PROVIDER_SYSTEM = f"{BASE}/sid/provider"
LOCATION_SYSTEM = f"{BASE}/sid/location"
CLAIM_SYSTEM = f"{BASE}/sid/claim"
POLICY_SYSTEM = f"{BASE}/sid/policy"
PAYMENT_BATCH_SYSTEM = f"{BASE}/sid/payment-batch"
LAYER_SYSTEM = f"{BASE}/CodeSystem/layer"
ALLOWANCE_SYSTEM = f"{BASE}/CodeSystem/allowance"
CARE_TYPE_SYSTEM = f"{BASE}/CodeSystem/care-type"
LOCAL_ADJUDICATION_SYSTEM = f"{BASE}/CodeSystem/adjudication"
NAME_SCRIPT_EXTENSION = f"{BASE}/StructureDefinition/name-script"
ELIGIBLE_AMOUNT_EXTENSION = f"{BASE}/StructureDefinition/eligible-amount"
ZERO_REASON_EXTENSION = f"{BASE}/StructureDefinition/zero-reason"
ADDRESS_LOCATION_EXTENSION = f"{BASE}/StructureDefinition/address-location"

ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/processpriority"
BENEFIT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/benefit-type"
COVERAGE_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-class"
SUBSCRIBER_RELATIONSHIP_SYSTEM = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
LOCATION_PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ORGANIZATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"
PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/payment-type"
ISSUE_TYPES = (
    "invalid",
    "structure",
    "required",
    "value",
    "not-found",
    "forbidden",
    "security",
    "processing",
    "conflict",
    "too-long",
    "exception",
    "login",
    "not-supported",
)

# identifier.type for the ID types we know (v2-0203); an unknown type gets only a text label.
_ID_TYPE_CODES: dict[str, tuple[str, str]] = {
    "cni": ("NI", "National identity card"),
    "cmnd": ("NI", "Identity card (CMND)"),
    "cccd": ("NI", "Citizen identity card (CCCD)"),
    "vneid": ("NI", "VNeID"),
    "national_id": ("NI", "National identifier"),
    "passport": ("PPN", "Passport"),
    "idpoor": ("", "IDPoor equity card"),
}
_CARE_TYPE_CLAIM_TYPE = {"inpatient": "institutional"}  # anything else is "professional"


# ---------------------------------------------------------------- money and serialisation


def money(minor: int, currency: str, minor_digits: int) -> dict[str, Any]:
    """A FHIR Money (as a dict) for ``minor`` units: ``money(123450, "CNY", 2)`` -> 1234.50 CNY."""
    return {"value": Decimal(format_money(int(minor), minor_digits)), "currency": currency}


def to_json_value(resource: FHIRAbstractModel) -> Any:
    """The resource as JSON-ready Python values, with every FHIR decimal kept as a ``Decimal``.

    ``model_dump(mode="json")`` writes decimals as floats (1234.50 -> 1234.5, and large amounts
    lose digits), so the dump is walked alongside the model and each decimal put back.
    """
    dumped = resource.model_dump(mode="json")
    _restore_decimals(resource, dumped)
    return dumped


def to_json(resource: FHIRAbstractModel) -> bytes:
    """UTF-8 JSON of ``resource``; decimals written exactly as held (``1234.50``, never a float)."""
    return encode_json(to_json_value(resource))


def encode_json(value: Any) -> bytes:
    """UTF-8 JSON of JSON-ready values (e.g. :func:`to_json_value`), ``Decimal`` written exactly."""
    return _encode(value).encode("utf-8")


def _restore_decimals(model: FHIRAbstractModel, dumped: dict[str, Any]) -> None:
    for name, info in type(model).model_fields.items():
        key = info.alias or name
        if key in dumped:
            dumped[key] = _restore_value(getattr(model, name, None), dumped[key])


def _restore_value(value: Any, dumped: Any) -> Any:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, FHIRAbstractModel) and isinstance(dumped, dict):
        _restore_decimals(value, dumped)
        return dumped
    if isinstance(value, list) and isinstance(dumped, list) and len(value) == len(dumped):
        return [_restore_value(item, item_dumped) for item, item_dumped in zip(value, dumped)]
    return dumped


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{_encode(item)}" for key, item in value.items())
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _validated(model: type[_Model], data: dict[str, Any]) -> _Model:
    return model.model_validate(data)


def _instant(value: dt.datetime | None) -> str:
    value = value or dt.datetime.now(dt.UTC)
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _ref(resource_type: str, resource_id: object, display: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        reference["display"] = display
    return reference


def fhir_id(text: str) -> str:
    """A FHIR id from a code of ours: layer ids use ``_`` which FHIR ids do not allow."""
    return text.replace("_", "-")


def payer_reference(policy_id: str, layer_id: str, payer: str) -> dict[str, Any]:
    """Payers are named in the policy file, not stored as organisations: a logical reference."""
    return {"identifier": {"system": f"{POLICY_SYSTEM}/{policy_id}/payer", "value": layer_id}, "display": payer}


# ---------------------------------------------------------------- registry


def national_id_system(id_type: str) -> str:
    return NATIONAL_ID_SYSTEM_PREFIX + id_type


def id_type_of_system(system: str) -> str | None:
    """``.../sid/id/vneid`` -> ``"vneid"``; None for a system that is not a national ID's."""
    if system.startswith(NATIONAL_ID_SYSTEM_PREFIX) and len(system) > len(NATIONAL_ID_SYSTEM_PREFIX):
        return system[len(NATIONAL_ID_SYSTEM_PREFIX) :]
    return None


def patient(person: Any) -> Patient:
    """A person -> Patient: national ID (system by ID type), names as written, in their own script."""
    identifiers: list[dict[str, Any]] = [{"use": "secondary", "system": PERSON_SYSTEM, "value": str(person.id)}]
    if person.national_id and person.id_type:
        code, label = _ID_TYPE_CODES.get(person.id_type, ("", person.id_type))
        identifier_type: dict[str, Any] = {"text": label}
        if code:
            identifier_type["coding"] = [_coding(V2_0203, code)]
        identifiers.insert(
            0,
            {
                "use": "official",
                "type": identifier_type,
                "system": national_id_system(person.id_type),
                "value": person.national_id,
            },
        )
    name: dict[str, Any] = {"use": "official", "text": person.full_name}
    if person.family_name:
        name["family"] = person.family_name
    if person.given_name:
        name["given"] = [person.given_name]
    if person.name_script:
        # ISO 15924 script of the name as written (Latn, Arab, Hans, Khmr, ...).
        name["extension"] = [{"url": NAME_SCRIPT_EXTENSION, "valueCode": person.name_script}]
    data: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.id),
        "identifier": identifiers,
        "active": person.death_date is None,
        "name": [name],
        "gender": person.sex,
        "birthDate": person.birth_date.isoformat(),
    }
    if person.phone:
        data["telecom"] = [{"system": "phone", "value": person.phone}]
    if person.death_date is not None:
        data["deceasedDateTime"] = person.death_date.isoformat()
    # Where the person lives, as the registry's area (the Location tree): a local extension,
    # since R4 Address has no reference to a Location.
    data["address"] = [
        {
            "use": "home",
            "extension": [
                {"url": ADDRESS_LOCATION_EXTENSION, "valueReference": _ref("Location", person.location_id)},
            ],
        }
    ]
    return _validated(Patient, data)


def household_group(household: Any, members: Sequence[Any]) -> Group:
    """A household -> Group (type person, actual) listing its members as Patients."""
    return _validated(
        Group,
        {
            "resourceType": "Group",
            "id": str(household.id),
            "identifier": [{"system": HOUSEHOLD_SYSTEM, "value": household.code}],
            "type": "person",
            "actual": True,
            "code": {"text": "household"},
            "quantity": len(members),
            "member": [
                {"entity": _ref("Patient", member.id), "inactive": member.death_date is not None} for member in members
            ],
            "characteristic": [
                {
                    "code": {"text": "location"},
                    "valueReference": _ref("Location", household.location_id),
                    "exclude": False,
                }
            ],
        },
    )


def area_location(location: Any) -> FhirLocation:
    """An area of the registry's tree -> Location (jurisdiction), ``partOf`` its parent area."""
    data: dict[str, Any] = {
        "resourceType": "Location",
        "id": str(location.id),
        "identifier": [{"system": LOCATION_SYSTEM, "value": location.code}],
        "status": "active",
        "name": location.name,
        "mode": "instance",
        "type": [{"text": location.level}],
        "physicalType": _concept(LOCATION_PHYSICAL_TYPE_SYSTEM, "jdn", "Jurisdiction"),
    }
    if location.parent_id is not None:
        data["partOf"] = _ref("Location", location.parent_id)
    return _validated(FhirLocation, data)


def provider_location_id(provider_id: int) -> str:
    return f"provider-{provider_id}"


def provider_location(provider: Any) -> FhirLocation:
    """A provider's site -> Location ``provider-<id>``, ``partOf`` the area it stands in."""
    return _validated(
        FhirLocation,
        {
            "resourceType": "Location",
            "id": provider_location_id(provider.id),
            "identifier": [{"system": PROVIDER_SYSTEM, "value": provider.code}],
            "status": "active",
            "name": provider.name,
            "mode": "instance",
            "physicalType": _concept(LOCATION_PHYSICAL_TYPE_SYSTEM, "si", "Site"),
            "managingOrganization": _ref("Organization", provider.id),
            "partOf": _ref("Location", provider.location_id),
        },
    )


def provider_organization(provider: Any) -> Organization:
    """A provider -> Organization (type prov), with its level, ownership and designation."""
    return _validated(
        Organization,
        {
            "resourceType": "Organization",
            "id": str(provider.id),
            "identifier": [{"system": PROVIDER_SYSTEM, "value": provider.code}],
            "active": True,
            "type": [
                _concept(ORGANIZATION_TYPE_SYSTEM, "prov", "Healthcare Provider"),
                {"text": f"level:{provider.level}"},
                {"text": f"ownership:{provider.ownership}"},
                {"text": "designated" if provider.designated else "not designated"},
            ],
            "name": provider.name,
        },
    )


# ---------------------------------------------------------------- coverage and eligibility


@dataclass(frozen=True, slots=True)
class LayerStanding:
    """One layer of the policy in force, and where the member stands against its annual cap.

    ``cap_kind``: ``"cap_per_year"`` (a band layer's yearly ceiling on what it pays; ``used`` is
    what it paid this benefit year), ``"max_per_year"`` (an oop_cap layer's yearly ceiling on what
    it leaves to the member; ``used`` is what it left), or None (no annual cap: ``annual_cap`` None).
    """

    layer_id: str
    payer: str
    order: int  # 1-based position in the payer cascade
    cap_kind: str | None = None
    annual_cap: int | None = None
    used: int = 0


@dataclass(frozen=True, slots=True)
class CoverageInForce:
    """A person's coverage on a date: the enrolment that makes them eligible and the policy layers."""

    person_id: int
    policy_version_id: int
    policy_id: str
    policy_name: str
    scheme_code: str
    currency: str
    minor_digits: int
    period_start: dt.date  # the enrolment's span within the policy's effective period
    period_end: dt.date | None
    benefit_year_start: dt.date
    benefit_year_end: dt.date
    layers: tuple[LayerStanding, ...] = ()
    active: bool = True


def coverage_id(person_id: int, policy_version_id: int, layer_id: str) -> str:
    return f"{person_id}.{policy_version_id}.{fhir_id(layer_id)}"


def parse_coverage_id(text: str) -> tuple[int, int, str] | None:
    """``"42.3.basic"`` -> (42, 3, "basic"); None if it is not one of ours."""
    parts = text.split(".", 2)
    if len(parts) != 3 or not parts[2]:
        return None
    ids = [
        int(part) if part.isascii() and part.isdigit() and len(part) <= 10 and 0 < int(part) < 2**31 else None
        for part in parts[:2]
    ]
    if ids[0] is None or ids[1] is None:
        return None
    return ids[0], ids[1], parts[2].replace("-", "_")


def _period(start: dt.date, end: dt.date | None) -> dict[str, str]:
    period = {"start": start.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    return period


def coverages(coverage: CoverageInForce) -> list[Coverage]:
    """One Coverage per layer of the policy in force, ``order`` = the layer's place in the cascade."""
    return [layer_coverage(coverage, layer) for layer in coverage.layers]


def layer_coverage(coverage: CoverageInForce, layer: LayerStanding) -> Coverage:
    return _validated(
        Coverage,
        {
            "resourceType": "Coverage",
            "id": coverage_id(coverage.person_id, coverage.policy_version_id, layer.layer_id),
            "status": "active" if coverage.active else "cancelled",
            "type": {"text": coverage.scheme_code},
            "beneficiary": _ref("Patient", coverage.person_id),
            "subscriberId": str(coverage.person_id),
            "relationship": _concept(SUBSCRIBER_RELATIONSHIP_SYSTEM, "self"),
            "period": _period(coverage.period_start, coverage.period_end),
            "payor": [payer_reference(coverage.policy_id, layer.layer_id, layer.payer)],
            "class": [
                {
                    "type": _concept(COVERAGE_CLASS_SYSTEM, "plan"),
                    "value": coverage.policy_id,
                    "name": coverage.policy_name,
                },
                {"type": _concept(COVERAGE_CLASS_SYSTEM, "subplan"), "value": layer.layer_id, "name": layer.payer},
            ],
            "order": layer.order,
        },
    )


def _benefit(layer: LayerStanding, currency: str, minor_digits: int) -> dict[str, Any] | None:
    if layer.annual_cap is None:
        return None
    code = "benefit" if layer.cap_kind == "cap_per_year" else "copay-maximum"
    return {
        "type": _concept(BENEFIT_TYPE_SYSTEM, code),
        "allowedMoney": money(layer.annual_cap, currency, minor_digits),
        "usedMoney": money(layer.used, currency, minor_digits),
    }


def eligibility_response(
    *,
    person_id: int,
    serviced_on: dt.date,
    coverages_in_force: Sequence[CoverageInForce],
    request_id: str | None = None,
    purpose: Sequence[str] = ("validation", "benefits"),
    created: dt.datetime | None = None,
    not_covered_reason: str | None = None,
) -> CoverageEligibilityResponse:
    """The answer to a CoverageEligibilityRequest: one ``insurance`` per layer Coverage (of every
    policy in force), each with ``inforce`` and, for layers with an annual cap, a benefit with
    ``allowedMoney`` (the cap) and ``usedMoney`` (used this benefit year).

    Without coverage on the date the response is still ``complete``, with no insurance and the
    reason code in ``disposition``.
    """
    data: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "status": "active",
        "purpose": list(purpose),
        "patient": _ref("Patient", person_id),
        "servicedDate": serviced_on.isoformat(),
        "created": _instant(created),
        "outcome": "complete",
    }
    if request_id:
        data["request"] = _ref("CoverageEligibilityRequest", request_id)
    else:
        data["request"] = {"display": "CoverageEligibilityRequest (not stored)"}
    with_layers = [coverage for coverage in coverages_in_force if coverage.layers]
    if not with_layers:
        data["insurer"] = {"display": "no coverage in force"}
        data["disposition"] = f"not covered: {not_covered_reason or 'not_enrolled'}"
        return _validated(CoverageEligibilityResponse, data)
    first = with_layers[0]
    data["insurer"] = {"identifier": {"system": POLICY_SYSTEM, "value": first.policy_id}, "display": first.policy_name}
    data["disposition"] = "covered" if any(coverage.active for coverage in with_layers) else "coverage not active"
    insurances = []
    for coverage in with_layers:
        for layer in coverage.layers:
            insurance: dict[str, Any] = {
                "coverage": _ref(
                    "Coverage", coverage_id(coverage.person_id, coverage.policy_version_id, layer.layer_id)
                ),
                "inforce": coverage.active,
                "benefitPeriod": _period(coverage.benefit_year_start, coverage.benefit_year_end),
            }
            benefit = _benefit(layer, coverage.currency, coverage.minor_digits)
            if benefit is not None:
                insurance["item"] = [
                    {
                        "category": _concept(LAYER_SYSTEM, layer.layer_id, layer.payer),
                        "name": f"{layer.layer_id} annual cap",
                        "unit": {"text": "individual"},
                        "term": {"text": "annual"},
                        "benefit": [benefit],
                    }
                ]
            insurances.append(insurance)
    data["insurance"] = insurances
    return _validated(CoverageEligibilityResponse, data)


# ---------------------------------------------------------------- claims


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One row of ``claim_payments``: what one layer or allowance paid on a claim."""

    kind: str  # "layer" | "allowance"
    item_id: str
    payer: str
    amount: int


@dataclass(frozen=True, slots=True)
class SettledClaim:
    """A stored claim and its payments, as the FHIR claim resources need them.

    ``claim`` is the ``claims`` row (or anything with the same attributes); ``payments`` its
    ``claim_payments`` rows in cascade order; ``coverage_ids`` the Coverage ids the claim was
    settled against (empty when nothing covered it).
    """

    claim: Any
    payments: tuple[Any, ...]
    currency: str
    minor_digits: int
    policy_id: str | None = None
    policy_name: str | None = None
    coverage_ids: tuple[str, ...] = ()
    layer_payers: Mapping[str, str] = field(default_factory=dict)


def _claim_type(care_type: str) -> dict[str, Any]:
    return _concept(CLAIM_TYPE_SYSTEM, _CARE_TYPE_CLAIM_TYPE.get(care_type, "professional"))


def _insurer(settled: SettledClaim) -> dict[str, Any]:
    if settled.policy_id:
        return {
            "identifier": {"system": POLICY_SYSTEM, "value": settled.policy_id},
            "display": settled.policy_name or settled.policy_id,
        }
    return {"display": "no coverage in force"}


def _insurance(settled: SettledClaim) -> list[dict[str, Any]]:
    if not settled.coverage_ids:
        return [{"sequence": 1, "focal": True, "coverage": {"display": "no coverage in force"}}]
    return [
        {"sequence": index, "focal": index == 1, "coverage": _ref("Coverage", coverage)}
        for index, coverage in enumerate(settled.coverage_ids, start=1)
    ]


def _claim_status(claim: Any) -> str:
    return "cancelled" if claim.status == "reversed" else "active"


def _claim_identifier(claim: Any) -> list[dict[str, Any]]:
    return [{"system": CLAIM_SYSTEM, "value": claim.claim_id}]


def _diagnosis(claim: Any) -> list[dict[str, Any]]:
    return [{"sequence": 1, "diagnosisCodeableConcept": _concept(ICD10_SYSTEM, claim.diagnosis)}]


def _billable_period(claim: Any) -> dict[str, str]:
    start = claim.service_date
    return _period(start, start + dt.timedelta(days=int(claim.days)))


def claim_resource(settled: SettledClaim) -> FhirClaim:
    """A stored claim -> Claim, as submitted (total, eligible part, diagnosis, care type)."""
    claim = settled.claim
    cur, digits = settled.currency, settled.minor_digits
    data: dict[str, Any] = {
        "resourceType": "Claim",
        "id": str(claim.id),
        "identifier": _claim_identifier(claim),
        "status": _claim_status(claim),
        "type": _claim_type(claim.care_type),
        "subType": _concept(CARE_TYPE_SYSTEM, claim.care_type),
        "use": "claim",
        "patient": _ref("Patient", claim.person_id),
        "billablePeriod": _billable_period(claim),
        "created": _instant(claim.submitted_at),
        "insurer": _insurer(settled),
        "provider": _ref("Organization", claim.provider_id),
        "priority": _concept(PROCESS_PRIORITY_SYSTEM, "normal"),
        "diagnosis": _diagnosis(claim),
        "insurance": _insurance(settled),
        "item": [
            {
                "sequence": 1,
                "diagnosisSequence": [1],
                "productOrService": {"text": claim.care_type},
                "servicedDate": claim.service_date.isoformat(),
                "net": money(claim.total, cur, digits),
            }
        ],
        "total": money(claim.total, cur, digits),
        "extension": [{"url": ELIGIBLE_AMOUNT_EXTENSION, "valueMoney": money(claim.eligible, cur, digits)}],
    }
    if claim.referred:
        data["referral"] = {"display": "referred"}
    return _validated(FhirClaim, data)


def claim_adjudications(settled: SettledClaim) -> list[dict[str, Any]]:
    """The item adjudications of a settled claim, in this order:

    - ``submitted`` (the bill's total), ``eligible`` (the part inside the benefit catalogue, after
      a fixed fee), one per **layer** (``{BASE}/CodeSystem/layer``, amount = ``claim_payments``),
      ``benefit`` (what the layers paid together), ``copay`` (the member's out-of-pocket), and the
      provider write-off (``{BASE}/CodeSystem/adjudication#provider-writeoff``) when a fixed fee
      applied. Allowances are paid to the member beside the bill, not on the item: the
      ClaimResponse lists them in ``processNote``.
    """
    claim = settled.claim
    cur, digits = settled.currency, settled.minor_digits
    layers = [payment for payment in settled.payments if payment.kind == "layer"]
    adjudications = [
        {"category": _concept(ADJUDICATION_SYSTEM, "submitted"), "amount": money(claim.total, cur, digits)},
        {"category": _concept(ADJUDICATION_SYSTEM, "eligible"), "amount": money(claim.eligible, cur, digits)},
    ]
    for payment in layers:
        adjudications.append(
            {
                "category": _concept(
                    LAYER_SYSTEM, payment.item_id, settled.layer_payers.get(payment.item_id) or payment.payer
                ),
                "amount": money(payment.amount, cur, digits),
            }
        )
    adjudications.append(
        {
            "category": _concept(ADJUDICATION_SYSTEM, "benefit"),
            "amount": money(sum(payment.amount for payment in layers), cur, digits),
        }
    )
    adjudications.append(
        {"category": _concept(ADJUDICATION_SYSTEM, "copay"), "amount": money(claim.member_oop, cur, digits)}
    )
    if claim.provider_writeoff:
        adjudications.append(
            {
                "category": _concept(LOCAL_ADJUDICATION_SYSTEM, "provider-writeoff", "Provider write-off"),
                "amount": money(claim.provider_writeoff, cur, digits),
            }
        )
    if claim.zero_reason:
        adjudications[0]["reason"] = _concept(f"{BASE}/CodeSystem/zero-reason", claim.zero_reason)
    return adjudications


def _totals(settled: SettledClaim) -> list[dict[str, Any]]:
    claim = settled.claim
    cur, digits = settled.currency, settled.minor_digits
    layers_paid = sum(payment.amount for payment in settled.payments if payment.kind == "layer")
    return [
        {"category": _concept(ADJUDICATION_SYSTEM, "submitted"), "amount": money(claim.total, cur, digits)},
        {"category": _concept(ADJUDICATION_SYSTEM, "eligible"), "amount": money(claim.eligible, cur, digits)},
        {"category": _concept(ADJUDICATION_SYSTEM, "benefit"), "amount": money(layers_paid, cur, digits)},
        {"category": _concept(ADJUDICATION_SYSTEM, "copay"), "amount": money(claim.member_oop, cur, digits)},
    ]


def _allowance_notes(settled: SettledClaim) -> list[dict[str, Any]]:
    notes = []
    for number, payment in enumerate((p for p in settled.payments if p.kind == "allowance" and p.amount), start=1):
        amount = format_money(payment.amount, settled.minor_digits)
        notes.append(
            {
                "number": number,
                "type": "display",
                "text": f"allowance {payment.item_id}: {amount} {settled.currency} to the member",
            }
        )
    return notes


def _disposition(claim: Any) -> str:
    if claim.status == "reversed":
        return "reversed"
    if claim.zero_reason:
        return f"settled with no payment: {claim.zero_reason}"
    return "settled"


def _payment(settled: SettledClaim) -> dict[str, Any]:
    claim = settled.claim
    layers_paid = sum(payment.amount for payment in settled.payments if payment.kind == "layer")
    return {
        "type": _concept(PAYMENT_TYPE_SYSTEM, "complete"),
        "date": (claim.submitted_at.date() if claim.submitted_at is not None else claim.service_date).isoformat(),
        "amount": money(layers_paid, settled.currency, settled.minor_digits),
    }


def claim_response(settled: SettledClaim) -> ClaimResponse:
    """A stored claim's settlement -> ClaimResponse: one item, its adjudications (see
    :func:`claim_adjudications`), totals, and the payers' payment to the provider."""
    claim = settled.claim
    data: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": str(claim.id),
        "identifier": _claim_identifier(claim),
        "status": _claim_status(claim),
        "type": _claim_type(claim.care_type),
        "subType": _concept(CARE_TYPE_SYSTEM, claim.care_type),
        "use": "claim",
        "patient": _ref("Patient", claim.person_id),
        "created": _instant(claim.submitted_at),
        "insurer": _insurer(settled),
        "requestor": _ref("Organization", claim.provider_id),
        "request": _ref("Claim", claim.id),
        "outcome": "complete",
        "disposition": _disposition(claim),
        "item": [{"itemSequence": 1, "adjudication": claim_adjudications(settled)}],
        "total": _totals(settled),
        "payment": _payment(settled),
    }
    notes = _allowance_notes(settled)
    if notes:
        data["processNote"] = notes
    if claim.zero_reason:
        data["extension"] = [{"url": ZERO_REASON_EXTENSION, "valueCode": claim.zero_reason}]
    return _validated(ClaimResponse, data)


def explanation_of_benefit(settled: SettledClaim) -> ExplanationOfBenefit:
    """Claim and ClaimResponse together for the member: what was billed, who paid what, what is left."""
    claim = settled.claim
    cur, digits = settled.currency, settled.minor_digits
    data: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": str(claim.id),
        "identifier": _claim_identifier(claim),
        "status": _claim_status(claim),
        "type": _claim_type(claim.care_type),
        "subType": _concept(CARE_TYPE_SYSTEM, claim.care_type),
        "use": "claim",
        "patient": _ref("Patient", claim.person_id),
        "billablePeriod": _billable_period(claim),
        "created": _instant(claim.submitted_at),
        "insurer": _insurer(settled),
        "provider": _ref("Organization", claim.provider_id),
        "claim": _ref("Claim", claim.id),
        "claimResponse": _ref("ClaimResponse", claim.id),
        "outcome": "complete",
        "disposition": _disposition(claim),
        "diagnosis": _diagnosis(claim),
        "insurance": [{"focal": entry["focal"], "coverage": entry["coverage"]} for entry in _insurance(settled)],
        "item": [
            {
                "sequence": 1,
                "diagnosisSequence": [1],
                "productOrService": {"text": claim.care_type},
                "servicedDate": claim.service_date.isoformat(),
                "net": money(claim.total, cur, digits),
                "adjudication": claim_adjudications(settled),
            }
        ],
        "total": _totals(settled),
        "payment": _payment(settled),
    }
    notes = _allowance_notes(settled)
    if notes:
        data["processNote"] = notes
    return _validated(ExplanationOfBenefit, data)


# ---------------------------------------------------------------- payments


def payment_reconciliation(
    *,
    batch_id: str,
    provider: Any,
    period: tuple[dt.date, dt.date],
    payer: str,
    lines: Iterable[tuple[int | str | None, int]],
    currency: str,
    minor_digits: int,
    status: str = "active",
    outcome: str = "complete",
    payment_date: dt.date,
    created: dt.datetime | None = None,
    disposition: str | None = None,
) -> PaymentReconciliation:
    """A payment batch to one provider -> PaymentReconciliation.

    - ``batch_id``: the batch's id, written as identifier (``{BASE}/sid/payment-batch``) and as
      the resource id (``_`` turned to ``-``; must then be 1-64 of ``[A-Za-z0-9.-]``).
    - ``provider``: the ``providers`` row paid (``id``, ``code``, ``name``): the payee.
    - ``period``: (first, last) day the batch covers, inclusive.
    - ``payer``: the paying body's name (a policy layer's ``payer``): ``paymentIssuer``.
    - ``lines``: ``(claim, amount)`` pairs; ``claim`` is the claims row's primary key (an ``int``:
      ``Claim/<pk>``) or the provider's ``claim_id`` (a ``str``: a logical reference by
      identifier), or None for a payment that is not for a claim (capitation: a detail without
      ``request``); ``amount`` in minor units (negative for a recovery: detail type
      ``adjustment``).
    - ``currency``, ``minor_digits``: of the amounts.
    - ``status``: FHIR financial status: ``active`` | ``cancelled`` | ``draft`` |
      ``entered-in-error``; ``outcome``: ``queued`` | ``complete`` | ``error`` | ``partial``.
    - ``payment_date``: when the money moves (or moved).

    ``paymentAmount`` is the exact sum of the lines.
    """
    if status not in ("active", "cancelled", "draft", "entered-in-error"):
        raise ValueError(f"status {status!r} is not a FHIR financial resource status")
    if outcome not in ("queued", "complete", "error", "partial"):
        raise ValueError(f"outcome {outcome!r} is not a FHIR remittance outcome")
    details = []
    total = 0
    for claim_ref, amount in lines:
        amount = int(amount)
        total += amount
        detail: dict[str, Any] = {"type": _concept(PAYMENT_TYPE_SYSTEM, "payment" if amount >= 0 else "adjustment")}
        if isinstance(claim_ref, int) and not isinstance(claim_ref, bool):
            detail["request"] = _ref("Claim", claim_ref)
        elif claim_ref is not None:
            detail["request"] = {"type": "Claim", "identifier": {"system": CLAIM_SYSTEM, "value": str(claim_ref)}}
        detail.update(
            {
                "payee": _ref("Organization", provider.id, provider.name),
                "date": payment_date.isoformat(),
                "amount": money(amount, currency, minor_digits),
            }
        )
        details.append(detail)
    data: dict[str, Any] = {
        "resourceType": "PaymentReconciliation",
        "id": fhir_id(str(batch_id)),
        "identifier": [{"system": PAYMENT_BATCH_SYSTEM, "value": str(batch_id)}],
        "status": status,
        "period": _period(period[0], period[1]),
        "created": _instant(created),
        "paymentIssuer": {"display": payer},
        "requestor": _ref("Organization", provider.id, provider.name),
        "outcome": outcome,
        "paymentDate": payment_date.isoformat(),
        "paymentAmount": money(total, currency, minor_digits),
        "paymentIdentifier": {"system": PAYMENT_BATCH_SYSTEM, "value": str(batch_id)},
    }
    if details:
        data["detail"] = details
    if disposition:
        data["disposition"] = disposition
    return _validated(PaymentReconciliation, data)


# ---------------------------------------------------------------- bundles, outcomes, metadata


def searchset(
    resources: Sequence[Resource], *, base_url: str = "", total: int | None = None, self_url: str | None = None
) -> Bundle:
    """A searchset Bundle of ``resources`` (``total`` defaults to their number)."""
    data: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources) if total is None else total,
        "entry": [
            {
                "fullUrl": f"{base_url}{resource.get_resource_type()}/{resource.id}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }
    if self_url:
        data["link"] = [{"relation": "self", "url": self_url}]
    if not data["entry"]:
        del data["entry"]
    return _validated(Bundle, data)


def operation_outcome(issues: Sequence[tuple[str, str, str | None]], *, severity: str = "error") -> OperationOutcome:
    """``issues``: (FHIR issue type, message, FHIRPath expression or None). Messages must not
    carry personal data: callers name fields and record ids only."""
    entries = []
    for code, message, expression in issues:
        entry: dict[str, Any] = {
            "severity": severity,
            "code": code if code in ISSUE_TYPES else "processing",
            "diagnostics": message,
        }
        if expression:
            entry["expression"] = [expression]
        entries.append(entry)
    if not entries:
        entries.append({"severity": severity, "code": "processing", "diagnostics": "error"})
    return _validated(OperationOutcome, {"resourceType": "OperationOutcome", "issue": entries})


READ_TYPES = (
    "Patient",
    "Group",
    "Organization",
    "Location",
    "Coverage",
    "Claim",
    "ClaimResponse",
    "ExplanationOfBenefit",
    "PaymentReconciliation",
)
SEARCH_PARAMS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Patient": (("identifier", "token", "national ID: <system>|<value>, or the equicover person id"),),
    "Coverage": (("beneficiary", "reference", "Patient/<id> or <id>"),),
    "ExplanationOfBenefit": (("patient", "reference", "Patient/<id> or <id>"),),
}


def capability_statement(
    *, software_version: str, base_url: str = "", released: dt.date | None = None
) -> CapabilityStatement:
    resources = []
    for resource_type in READ_TYPES:
        interactions = [{"code": "read"}]
        entry: dict[str, Any] = {"type": resource_type}
        if resource_type in SEARCH_PARAMS:
            interactions.append({"code": "search-type"})
            entry["searchParam"] = [
                {"name": name, "type": kind, "documentation": doc} for name, kind, doc in SEARCH_PARAMS[resource_type]
            ]
        if resource_type == "Claim":
            interactions.append({"code": "create"})
            entry["documentation"] = (
                "POST a Claim: settled in real time through the payer cascade; the answer is the "
                f"ClaimResponse. Idempotent on the identifier of system {CLAIM_SYSTEM}."
            )
        entry["interaction"] = interactions
        resources.append(entry)
    resources.append(
        {
            "type": "CoverageEligibilityRequest",
            "interaction": [{"code": "create"}],
            "documentation": (
                "POST a CoverageEligibilityRequest: the answer is a CoverageEligibilityResponse (not stored)."
            ),
        }
    )
    return _validated(
        CapabilityStatement,
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": (released or dt.date.today()).isoformat(),
            "publisher": "equicover",
            "kind": "instance",
            "software": {"name": "equicover", "version": software_version},
            "implementation": {"description": "equicover FHIR R4 endpoint", "url": base_url or "/fhir"},
            "fhirVersion": FHIR_VERSION,
            "format": [FHIR_JSON, "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": (
                            "Bearer token from the equicover API; results are limited to the user's area and facility."
                        )
                    },
                    "resource": resources,
                }
            ],
        },
    )
