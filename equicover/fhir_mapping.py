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
- ``{BASE}/sid/payer``: ``<scheme code>/<layer id>``, the payer of one layer, the same in every
  policy year (``Organization/payer-<scheme>-<layer>``, type ``pay``).
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
from functools import cache
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
from fhir.resources.R4B.servicerequest import ServiceRequest
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
PAYER_SYSTEM = f"{BASE}/sid/payer"
PAYMENT_BATCH_SYSTEM = f"{BASE}/sid/payment-batch"
CARD_SYSTEM_PREFIX = f"{BASE}/sid/card/"  # + the scheme's code: the numbers of its member cards
REFERRAL_LETTER_SYSTEM = f"{BASE}/sid/referral-letter"
LAYER_SYSTEM = f"{BASE}/CodeSystem/layer"
ALLOWANCE_SYSTEM = f"{BASE}/CodeSystem/allowance"
CARE_TYPE_SYSTEM = f"{BASE}/CodeSystem/care-type"
LOCAL_ADJUDICATION_SYSTEM = f"{BASE}/CodeSystem/adjudication"
NAME_SCRIPT_EXTENSION = f"{BASE}/StructureDefinition/name-script"
ELIGIBLE_AMOUNT_EXTENSION = f"{BASE}/StructureDefinition/eligible-amount"
ZERO_REASON_EXTENSION = f"{BASE}/StructureDefinition/zero-reason"
ZERO_REASON_SYSTEM = f"{BASE}/CodeSystem/zero-reason"
ADDRESS_LOCATION_EXTENSION = f"{BASE}/StructureDefinition/address-location"
COVERAGE_CATEGORY_EXTENSION = f"{BASE}/StructureDefinition/coverage-category"
CATEGORY_SYSTEM = f"{BASE}/CodeSystem/category"  # + "-<programme>" for a category a programme's rules gave
TARGETING_ROUND_SYSTEM = f"{BASE}/sid/targeting-round"  # "<round id>/<category>": a round's list of a category

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
PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/payment-type"  # PaymentReconciliation.detail.type
# ClaimResponse.payment.type and ExplanationOfBenefit.payment.type: complete | partial
EX_PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
BENEFIT_UNIT_SYSTEM = "http://terminology.hl7.org/CodeSystem/benefit-unit"
BENEFIT_TERM_SYSTEM = "http://terminology.hl7.org/CodeSystem/benefit-term"
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


@cache
def _field_names(model_class: type[FHIRAbstractModel]) -> dict[str, str]:
    """JSON key -> attribute name of a model class's fields."""
    return {info.alias or name: name for name, info in model_class.model_fields.items()}


def _restore_decimals(model: FHIRAbstractModel, dumped: dict[str, Any]) -> None:
    # Walk the keys the dump holds (a few per element), not every field the class declares.
    names = _field_names(type(model))
    for key, value in dumped.items():
        name = names.get(key)
        if name is not None:
            dumped[key] = _restore_value(getattr(model, name, None), value)


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
    text = value.isoformat()
    # UTC as "Z", the way the resource models write an instant back.
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def instant(value: dt.datetime | None) -> str:
    """An ISO 8601 instant with its offset (a naive value is taken as UTC)."""
    return _instant(value)


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


def payer_identifier(scheme_code: str, layer_id: str) -> dict[str, str]:
    """The payer of one layer of one scheme: ``{BASE}/sid/payer|<scheme code>/<layer id>``, the
    same whatever the policy year (a policy id names a year's rules, the scheme and layer stay)."""
    return {"system": PAYER_SYSTEM, "value": f"{scheme_code}/{layer_id}"}


def payer_organization_id(scheme_code: str, layer_id: str) -> str:
    """``payer-<scheme code>-<layer id>`` as a FHIR id (``_`` -> ``-``, other characters dropped)."""
    text = fhir_id(f"payer-{scheme_code}-{layer_id}")
    return "".join(char for char in text if char.isascii() and (char.isalnum() or char in "-."))[:64]


def payer_reference(scheme_code: str, layer_id: str, payer: str) -> dict[str, Any]:
    """A layer's payer: its Organization (``/fhir/Organization/payer-...``) and stable identifier."""
    return {
        "reference": f"Organization/{payer_organization_id(scheme_code, layer_id)}",
        "identifier": payer_identifier(scheme_code, layer_id),
        "display": payer,
    }


def payer_organization(*, scheme_code: str, scheme_name: str, layer_id: str, payer: str) -> Organization:
    """The payer of one layer of a scheme -> Organization of type ``pay`` (Payer)."""
    return _validated(
        Organization,
        {
            "resourceType": "Organization",
            "id": payer_organization_id(scheme_code, layer_id),
            "identifier": [payer_identifier(scheme_code, layer_id)],
            "active": True,
            "type": [
                _concept(ORGANIZATION_TYPE_SYSTEM, "pay", "Payer"),
                {"coding": [_coding(LAYER_SYSTEM, layer_id)], "text": f"layer {layer_id} of {scheme_code}"},
            ],
            "name": payer,
            "alias": [f"{scheme_name}: {layer_id}"],
        },
    )


# ---------------------------------------------------------------- registry


def national_id_system(id_type: str) -> str:
    return NATIONAL_ID_SYSTEM_PREFIX + id_type


def id_type_of_system(system: str) -> str | None:
    """``.../sid/id/vneid`` -> ``"vneid"``; None for a system that is not a national ID's."""
    if system.startswith(NATIONAL_ID_SYSTEM_PREFIX) and len(system) > len(NATIONAL_ID_SYSTEM_PREFIX):
        return system[len(NATIONAL_ID_SYSTEM_PREFIX) :]
    return None


@dataclass(frozen=True, slots=True)
class CategoryHolding:
    """A person's holding of a registry category, as the Patient's coverage-category extension tells it."""

    category: str
    label: str | None
    valid_from: dt.date
    valid_to: dt.date | None
    source: str | None
    programme: str | None = None  # the targeting rules' id, when a round or a hospital identification gave it
    round_id: int | None = None  # the round, when a round's approval gave it


def category_system(programme: str | None) -> str:
    """The code system of a category: the programme whose rules gave it, or the registry's own."""
    return f"{CATEGORY_SYSTEM}-{programme}" if programme else CATEGORY_SYSTEM


def category_code_system_of(programme: str | None) -> LocalCodeSystem:
    """The served CodeSystem of the registry's categories, or of those a programme's rules give."""
    if programme is None:
        return LocalCodeSystem("category", "Category", "Registry categories", "The registry's categories of persons.")
    return LocalCodeSystem(
        f"category-{programme}",
        "ProgrammeCategory",
        f"Registry categories given by the targeting rules {programme}",
        f"The registry categories a round of identification under the rules {programme} gives.",
    )


def round_group_id(round_id: int, category: str) -> str:
    """The Group id of a round's list of one category (FHIR ids allow no underscore)."""
    return f"targeting-{round_id}-{category.replace('_', '-')}"


def parse_round_group_id(text: str) -> tuple[int, str] | None:
    """``targeting-4-registered-poor`` -> (4, "registered-poor"): the category still in its id form."""
    prefix, _, rest = text.partition("-")
    number, _, category = rest.partition("-")
    if prefix != "targeting" or not number.isdigit() or not category or len(number) > 12:
        return None
    return int(number), category


def _category_extension(holding: CategoryHolding) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "code", "valueCoding": _coding(category_system(holding.programme), holding.category, holding.label)},
        {"url": "period", "valuePeriod": _period(holding.valid_from, holding.valid_to)},
    ]
    if holding.source:
        parts.append({"url": "source", "valueString": holding.source})
    if holding.round_id is not None:
        parts.append(
            {"url": "list", "valueReference": _ref("Group", round_group_id(holding.round_id, holding.category))}
        )
    return {"url": COVERAGE_CATEGORY_EXTENSION, "extension": parts}


def patient(person: Any, categories: Sequence[CategoryHolding] = ()) -> Patient:
    """A person -> Patient: national ID (system by ID type), names as written, in their own script;
    each category the person holds or held (``categories``) as a coverage-category extension."""
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
        **({"extension": [_category_extension(holding) for holding in categories]} if categories else {}),
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


def round_category_group(
    *,
    round_id: int,
    programme: str,
    category: str,
    label: str | None,
    area_location_id: int,
    approved_on: dt.date | None,
    members: Sequence[tuple[int, dt.date, dt.date | None]],
) -> Group:
    """A round's list of one category -> Group (type person, actual): each member a Patient with the
    period the category holds for them; the round's area as a characteristic."""
    return _validated(
        Group,
        {
            "resourceType": "Group",
            "id": round_group_id(round_id, category),
            "identifier": [{"system": TARGETING_ROUND_SYSTEM, "value": f"{round_id}/{category}"}],
            "type": "person",
            "actual": True,
            "code": {
                "coding": [_coding(category_system(programme), category, label)],
                "text": f"targeting round {round_id}"
                + (f", approved {approved_on.isoformat()}" if approved_on else ""),
            },
            "quantity": len(members),
            "member": [
                {"entity": _ref("Patient", person_id), "period": _period(valid_from, valid_to)}
                for person_id, valid_from, valid_to in members
            ],
            "characteristic": [
                {
                    "code": {"text": "location"},
                    "valueReference": _ref("Location", area_location_id),
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
    card_number: str | None = None  # the member's live card of the scheme (a person's or its household's)


def card_system(scheme_code: str) -> str:
    """The identifier system of a scheme's card numbers."""
    return f"{CARD_SYSTEM_PREFIX}{scheme_code}"


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
            **(
                {
                    "identifier": [
                        {
                            "type": _concept(V2_0203, "MB", "Member Number"),
                            "system": card_system(coverage.scheme_code),
                            "value": coverage.card_number,
                        }
                    ]
                }
                if coverage.card_number
                else {}
            ),
            "type": {"text": coverage.scheme_code},
            "beneficiary": _ref("Patient", coverage.person_id),
            "subscriberId": str(coverage.person_id),
            "relationship": _concept(SUBSCRIBER_RELATIONSHIP_SYSTEM, "self"),
            "period": _period(coverage.period_start, coverage.period_end),
            "payor": [payer_reference(coverage.scheme_code, layer.layer_id, layer.payer)],
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
    request_identifier: Mapping[str, str] | None = None,
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
    # The request is answered, not stored: a reference to it would name something no one can
    # read. Its identifier (when it had one) says which request this answers.
    data["request"] = {"type": "CoverageEligibilityRequest", "display": "CoverageEligibilityRequest (not stored)"}
    if request_identifier:
        data["request"]["identifier"] = dict(request_identifier)
    with_layers = [coverage for coverage in coverages_in_force if coverage.layers]
    if not with_layers:
        data["insurer"] = {"display": "no coverage in force"}
        data["disposition"] = f"not covered: {not_covered_reason or 'not_enrolled'}"
        return _validated(CoverageEligibilityResponse, data)
    first = with_layers[0]
    data["insurer"] = payer_reference(first.scheme_code, first.layers[0].layer_id, first.layers[0].payer)
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
                        "unit": _concept(BENEFIT_UNIT_SYSTEM, "individual", "Individual"),
                        "term": _concept(BENEFIT_TERM_SYSTEM, "annual", "Annual"),
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
class SubmittedItem:
    """One ``Claim.item`` as the provider sent it: its sequence, net in minor units, and what it
    was for (the ``productOrService`` concept as sent)."""

    sequence: int
    net: int
    product_or_service: Mapping[str, Any]
    serviced_date: str | None = None


@dataclass(frozen=True, slots=True)
class SettledClaim:
    """A stored claim and its payments, as the FHIR claim resources need them.

    ``claim`` is the ``claims`` row (or anything with the same attributes); ``payments`` its
    ``claim_payments`` rows in cascade order; ``coverage_ids`` the Coverage ids the claim was
    settled against (empty when nothing covered it). ``scheme_code`` names the payers (one
    Organization per layer of the scheme). ``items`` and ``insurance`` are the Claim's items and
    insurance as the provider sent them (empty for a claim that did not come in as FHIR).
    ``balances`` are the capped layers' standing in the claim's benefit year
    (``benefit_year``), for ``ExplanationOfBenefit.benefitBalance``.
    """

    claim: Any
    payments: tuple[Any, ...]
    currency: str
    minor_digits: int
    policy_id: str | None = None
    policy_name: str | None = None
    coverage_ids: tuple[str, ...] = ()
    layer_payers: Mapping[str, str] = field(default_factory=dict)
    scheme_code: str | None = None
    items: tuple[SubmittedItem, ...] = ()
    insurance: tuple[Mapping[str, Any], ...] = ()
    balances: tuple[LayerStanding, ...] = ()
    benefit_year: tuple[dt.date, dt.date] | None = None
    referral_letter_id: int | None = None  # the letter the claim carried: Claim.referral -> ServiceRequest


def apportion(amount: int, weights: Sequence[int]) -> list[int]:
    """``amount`` (minor units) shared in proportion to ``weights``, to the unit: each share is
    rounded down, then the units left go one each to the largest remainders (the earlier item on
    a tie), so the shares add up to ``amount`` exactly. All weights zero: the first takes it all."""
    if not weights:
        return []
    whole = sum(weights)
    if whole <= 0:
        return [amount] + [0] * (len(weights) - 1)
    shares = [amount * weight // whole for weight in weights]
    remainders = [amount * weight % whole for weight in weights]
    left = amount - sum(shares)
    for index in sorted(range(len(weights)), key=lambda at: (-remainders[at], at))[:left]:
        shares[index] += 1
    return shares


def _claim_type(care_type: str) -> dict[str, Any]:
    return _concept(CLAIM_TYPE_SYSTEM, _CARE_TYPE_CLAIM_TYPE.get(care_type, "professional"))


def _layer_payments(settled: SettledClaim) -> list[Any]:
    return [payment for payment in settled.payments if payment.kind == "layer"]


def _insurer(settled: SettledClaim) -> dict[str, Any]:
    """The first payer of the cascade (the layer that pays first) as an Organization."""
    layers = _layer_payments(settled)
    if settled.scheme_code and layers:
        first = layers[0]
        return payer_reference(
            settled.scheme_code, first.item_id, settled.layer_payers.get(first.item_id) or first.payer
        )
    return {"display": "no coverage in force"}


def _insurance(settled: SettledClaim) -> list[dict[str, Any]]:
    """The Claim's insurance as sent; for a claim that did not come in as FHIR, the Coverages it
    was settled against."""
    if settled.insurance:
        return [dict(entry) for entry in settled.insurance]
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


def _items(settled: SettledClaim) -> list[SubmittedItem]:
    """The items the answer speaks of: those sent, else one for the whole bill."""
    if settled.items:
        return list(settled.items)
    claim = settled.claim
    return [
        SubmittedItem(
            sequence=1,
            net=int(claim.total),
            product_or_service={"text": claim.care_type},
            serviced_date=claim.service_date.isoformat(),
        )
    ]


def claim_resource(settled: SettledClaim) -> FhirClaim:
    """A stored claim -> Claim (total, eligible part, diagnosis, care type), for a claim that did
    not come in as FHIR: one sent as FHIR is read back as it was sent."""
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
                "sequence": item.sequence,
                "diagnosisSequence": [1],
                "productOrService": dict(item.product_or_service),
                **({"servicedDate": item.serviced_date} if item.serviced_date else {}),
                "net": money(item.net, cur, digits),
            }
            for item in _items(settled)
        ],
        "total": money(claim.total, cur, digits),
        "extension": [{"url": ELIGIBLE_AMOUNT_EXTENSION, "valueMoney": money(claim.eligible, cur, digits)}],
    }
    if settled.referral_letter_id is not None:
        data["referral"] = _ref("ServiceRequest", settled.referral_letter_id)
    elif claim.referred:
        data["referral"] = {"display": "referred"}
    return _validated(FhirClaim, data)


# ---------------------------------------------------------------- referral letters


@dataclass(frozen=True, slots=True)
class ReferralLetterFacts:
    """A referral letter as a ServiceRequest shows it (the reason in words stays out: clinical text)."""

    id: int
    number: str
    person_id: int
    from_provider_id: int
    to_provider_id: int | None
    to_level: str | None
    diagnosis: str
    issued_on: dt.date
    status: str  # issued, counter_referred, cancelled
    valid_until: dt.date | None = None
    counter_on: dt.date | None = None


_LETTER_STATUS = {"issued": "active", "counter_referred": "completed", "cancelled": "revoked"}
REFERRAL_SNOMED = ("http://snomed.info/sct", "3457005", "Patient referral")


def service_request(letter: ReferralLetterFacts) -> ServiceRequest:
    """A referral letter: ``identifier`` its number, ``requester`` the facility that wrote it,
    ``performer`` the facility it sends to (or ``performerType`` the level of care), ``reasonCode``
    the ICD-10 diagnosis, ``occurrencePeriod`` from the issue date to the last day it holds (the
    validity of the scheme's policy in force on the issue date)."""
    data: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(letter.id),
        "identifier": [{"system": REFERRAL_LETTER_SYSTEM, "value": letter.number}],
        "status": _LETTER_STATUS.get(letter.status, "unknown"),
        "intent": "order",
        "category": [_concept(*REFERRAL_SNOMED)],
        "code": {"text": "referral"},
        "subject": _ref("Patient", letter.person_id),
        "authoredOn": letter.issued_on.isoformat(),
        "requester": _ref("Organization", letter.from_provider_id),
        "reasonCode": [{"coding": [{"system": ICD10_SYSTEM, "code": letter.diagnosis}]}],
    }
    if letter.to_provider_id is not None:
        data["performer"] = [_ref("Organization", letter.to_provider_id)]
    elif letter.to_level:
        data["performerType"] = {"text": letter.to_level}
    if letter.valid_until is not None:
        data["occurrencePeriod"] = _period(letter.issued_on, letter.valid_until)
    return _validated(ServiceRequest, data)


def _adjudication_amounts(settled: SettledClaim) -> list[tuple[dict[str, Any], int]]:
    """(category, minor units) of the whole claim, in the order of :func:`claim_adjudications`."""
    claim = settled.claim
    layers = _layer_payments(settled)
    found: list[tuple[dict[str, Any], int]] = [
        (_concept(ADJUDICATION_SYSTEM, "submitted", "Submitted Amount"), int(claim.total)),
        (_concept(ADJUDICATION_SYSTEM, "eligible", "Eligible Amount"), int(claim.eligible)),
    ]
    for payment in layers:
        payer = settled.layer_payers.get(payment.item_id) or payment.payer
        found.append((_concept(LAYER_SYSTEM, payment.item_id, payer), int(payment.amount)))
    found.append(
        (_concept(ADJUDICATION_SYSTEM, "benefit", "Benefit Amount"), sum(int(payment.amount) for payment in layers))
    )
    found.append((_concept(ADJUDICATION_SYSTEM, "copay", "CoPay"), int(claim.member_oop)))
    if claim.provider_writeoff:
        found.append(
            (
                _concept(LOCAL_ADJUDICATION_SYSTEM, "provider-writeoff", "Provider write-off"),
                int(claim.provider_writeoff),
            )
        )
    return found


def _render_adjudications(settled: SettledClaim, amounts: Sequence[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    cur, digits = settled.currency, settled.minor_digits
    rendered = [{"category": category, "amount": money(amount, cur, digits)} for category, amount in amounts]
    if settled.claim.zero_reason:
        rendered[0]["reason"] = _concept(ZERO_REASON_SYSTEM, settled.claim.zero_reason)
    return rendered


def claim_adjudications(settled: SettledClaim) -> list[dict[str, Any]]:
    """The adjudications of a settled claim as a whole, in this order:

    - ``submitted`` (the bill's total), ``eligible`` (the part inside the benefit catalogue, after
      a fixed fee), one per **layer** (``{BASE}/CodeSystem/layer``, amount = ``claim_payments``),
      ``benefit`` (what the layers paid together), ``copay`` (the member's out-of-pocket), and the
      provider write-off (``{BASE}/CodeSystem/adjudication#provider-writeoff``) when a fixed fee
      applied. Allowances are paid to the member beside the bill, not on the item: the
      ClaimResponse lists them in ``processNote``.
    """
    return _render_adjudications(settled, _adjudication_amounts(settled))


def item_adjudications(settled: SettledClaim) -> list[list[dict[str, Any]]]:
    """The adjudications of each item sent, in the order of :func:`claim_adjudications`.

    The cascade settles the bill as a whole; each item's share of every amount is the claim's
    amount in proportion to the item's net (:func:`apportion`), so each category adds up over the
    items to the claim's figure exactly, ``submitted`` is each item's own net, and each item's
    ``benefit`` is the sum of its layers' shares."""
    items = _items(settled)
    whole = _adjudication_amounts(settled)
    if len(items) == 1:
        return [_render_adjudications(settled, whole)]
    nets = [item.net for item in items]
    shares = [apportion(amount, nets) for _category, amount in whole]
    per_item: list[list[tuple[dict[str, Any], int]]] = []
    for index in range(len(items)):
        amounts = [(category, shares[row][index]) for row, (category, _amount) in enumerate(whole)]
        layer_total = sum(amount for category, amount in amounts if category["coding"][0]["system"] == LAYER_SYSTEM)
        amounts = [
            (category, layer_total if category["coding"][0]["code"] == "benefit" else amount)
            if category["coding"][0]["system"] == ADJUDICATION_SYSTEM
            else (category, amount)
            for category, amount in amounts
        ]
        per_item.append(amounts)
    return [_render_adjudications(settled, amounts) for amounts in per_item]


def _totals(settled: SettledClaim) -> list[dict[str, Any]]:
    claim = settled.claim
    cur, digits = settled.currency, settled.minor_digits
    layers_paid = sum(payment.amount for payment in _layer_payments(settled))
    return [
        {
            "category": _concept(ADJUDICATION_SYSTEM, "submitted", "Submitted Amount"),
            "amount": money(claim.total, cur, digits),
        },
        {
            "category": _concept(ADJUDICATION_SYSTEM, "eligible", "Eligible Amount"),
            "amount": money(claim.eligible, cur, digits),
        },
        {
            "category": _concept(ADJUDICATION_SYSTEM, "benefit", "Benefit Amount"),
            "amount": money(layers_paid, cur, digits),
        },
        {"category": _concept(ADJUDICATION_SYSTEM, "copay", "CoPay"), "amount": money(claim.member_oop, cur, digits)},
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
    layers_paid = sum(payment.amount for payment in _layer_payments(settled))
    return {
        "type": _concept(EX_PAYMENT_TYPE_SYSTEM, "complete", "Complete"),
        "date": (claim.submitted_at.date() if claim.submitted_at is not None else claim.service_date).isoformat(),
        "amount": money(layers_paid, settled.currency, settled.minor_digits),
    }


def claim_response(settled: SettledClaim) -> ClaimResponse:
    """A stored claim's settlement -> ClaimResponse: one item per item sent (see
    :func:`item_adjudications`), totals, the insurance as sent, and the payers' payment to the
    provider. ``insurer`` is the first payer of the cascade."""
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
        "item": [
            {"itemSequence": item.sequence, "adjudication": adjudications}
            for item, adjudications in zip(_items(settled), item_adjudications(settled))
        ],
        "total": _totals(settled),
        "payment": _payment(settled),
        "insurance": [
            {"sequence": entry["sequence"], "focal": entry["focal"], "coverage": entry["coverage"]}
            for entry in _insurance(settled)
        ],
    }
    notes = _allowance_notes(settled)
    if notes:
        data["processNote"] = notes
    if claim.zero_reason:
        data["extension"] = [{"url": ZERO_REASON_EXTENSION, "valueCode": claim.zero_reason}]
    return _validated(ClaimResponse, data)


def _benefit_balances(settled: SettledClaim) -> list[dict[str, Any]]:
    """One ``benefitBalance`` per capped layer: the annual cap (``allowedMoney``) and what is used
    of it in the claim's benefit year (``usedMoney``)."""
    balances = []
    for layer in settled.balances:
        if layer.annual_cap is None:
            continue
        balances.append(
            {
                "category": _concept(LAYER_SYSTEM, layer.layer_id, layer.payer),
                "name": f"{layer.layer_id} annual cap",
                "unit": _concept(BENEFIT_UNIT_SYSTEM, "individual", "Individual"),
                "term": _concept(BENEFIT_TERM_SYSTEM, "annual", "Annual"),
                "financial": [
                    {
                        "type": _concept(
                            BENEFIT_TYPE_SYSTEM, "benefit" if layer.cap_kind == "cap_per_year" else "copay-maximum"
                        ),
                        "allowedMoney": money(layer.annual_cap, settled.currency, settled.minor_digits),
                        "usedMoney": money(layer.used, settled.currency, settled.minor_digits),
                    }
                ],
            }
        )
    return balances


def explanation_of_benefit(settled: SettledClaim) -> ExplanationOfBenefit:
    """Claim and ClaimResponse together for the member: what was billed, who paid what, what is
    left of each capped layer this benefit year (``benefitBalance``)."""
    return _validated(ExplanationOfBenefit, _explanation_of_benefit_data(settled))


def explanation_of_benefit_json(settled: SettledClaim) -> dict[str, Any]:
    """:func:`explanation_of_benefit` as JSON-ready values, validated the same way but not dumped
    back from the model: a search answers hundreds of them, and dumping a model with many items
    costs several times its validation."""
    data = _explanation_of_benefit_data(settled)
    ExplanationOfBenefit.model_validate(data)
    return data


def _explanation_of_benefit_data(settled: SettledClaim) -> dict[str, Any]:
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
                "sequence": item.sequence,
                "diagnosisSequence": [1],
                "productOrService": dict(item.product_or_service),
                "servicedDate": item.serviced_date or claim.service_date.isoformat(),
                "net": money(item.net, cur, digits),
                "adjudication": adjudications,
            }
            for item, adjudications in zip(_items(settled), item_adjudications(settled))
        ],
        "total": _totals(settled),
        "payment": _payment(settled),
    }
    balances = _benefit_balances(settled)
    if balances and settled.benefit_year is not None:
        data["benefitPeriod"] = _period(*settled.benefit_year)
        data["benefitBalance"] = balances
    notes = _allowance_notes(settled)
    if notes:
        data["processNote"] = notes
    return data


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
    resources: Sequence[Resource],
    *,
    base_url: str = "",
    total: int | None = None,
    self_url: str | None = None,
    links: Sequence[tuple[str, str]] = (),
) -> Bundle:
    """A searchset Bundle of ``resources`` (``total`` defaults to their number); ``links`` the
    (relation, url) pairs of the page (self, first, previous, next, last)."""
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
    if links:
        data["link"] = [{"relation": relation, "url": url} for relation, url in links]
    elif self_url:
        data["link"] = [{"relation": "self", "url": self_url}]
    if not data["entry"]:
        del data["entry"]
    return _validated(Bundle, data)


def searchset_json(
    resources: Sequence[Mapping[str, Any]], *, base_url: str, total: int, links: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """:func:`searchset` of resources already validated and held as JSON-ready values: the
    Bundle's own elements are validated, its entries are not validated a second time."""
    data: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": total}
    if links:
        data["link"] = [{"relation": relation, "url": url} for relation, url in links]
    _validated(Bundle, data)
    if resources:
        data["entry"] = [
            {
                "fullUrl": f"{base_url}{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ]
    return data


SUBSETTED_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


def subsetted(data: Mapping[str, Any], elements: Sequence[str]) -> dict[str, Any]:
    """A resource (JSON-ready) with only ``elements`` and what R4 makes mandatory for its type,
    tagged ``SUBSETTED`` as FHIR asks of an answer to ``_elements``."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(str(data["resourceType"]))
    mandatory = {
        info.alias or name
        for name, info in model.model_fields.items()
        if info.is_required()
        or (isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("element_required"))
    }
    keep = {"resourceType", "id", "meta", *mandatory, *elements}
    kept = {key: value for key, value in data.items() if key in keep}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), _coding(SUBSETTED_SYSTEM, "SUBSETTED", "subsetted")]
    return {"resourceType": kept["resourceType"], **({"id": kept["id"]} if "id" in kept else {}), "meta": meta, **kept}


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


# ---------------------------------------------------------------- conformance: what the server declares


@dataclass(frozen=True, slots=True)
class SearchParameter:
    name: str
    kind: str  # FHIR search parameter type: token, reference, date, number, ...
    documentation: str
    definition: str | None = None  # canonical of a standard parameter


def _standard(resource_type: str, code: str) -> str:
    return f"http://hl7.org/fhir/SearchParameter/{resource_type}-{code}"


SEARCH_PARAMS: dict[str, tuple[SearchParameter, ...]] = {
    "Patient": (
        SearchParameter("_id", "token", "the equicover person id; an OR list with commas", _standard("Resource", "id")),
        SearchParameter(
            "identifier",
            "token",
            "national ID <system>|<value>, or the person id (system .../sid/person); an OR list with commas",
            _standard("Patient", "identifier"),
        ),
    ),
    "Coverage": (
        SearchParameter(
            "beneficiary",
            "reference",
            "Patient/<id>, <id> or the absolute URL of the Patient",
            _standard("Coverage", "beneficiary"),
        ),
        SearchParameter(
            "patient", "reference", "the same as beneficiary (the member covered)", _standard("Coverage", "patient")
        ),
        SearchParameter(
            "identifier",
            "token",
            f"a member card: {CARD_SYSTEM_PREFIX}<scheme>|<card number> (or the number alone); the coverage of "
            "the card's holder (a household card: each member) in the card's scheme",
            _standard("Coverage", "identifier"),
        ),
        SearchParameter(
            "date",
            "date",
            "coverage in force on this day, YYYY-MM-DD (prefix eq only). Default: today, so a search of a "
            "past policy year must give its date",
        ),
    ),
    "ExplanationOfBenefit": (
        SearchParameter(
            "patient",
            "reference",
            "Patient/<id>, <id> or the absolute URL",
            _standard("ExplanationOfBenefit", "patient"),
        ),
        SearchParameter("_id", "token", "the stored claim's id; an OR list with commas", _standard("Resource", "id")),
        SearchParameter(
            "identifier",
            "token",
            f"the provider's bill number: {CLAIM_SYSTEM}|<number>",
            _standard("ExplanationOfBenefit", "identifier"),
        ),
        SearchParameter("_sort", "string", "created, service-date or _id; - before a key sorts descending"),
    ),
    "Organization": (
        SearchParameter(
            "identifier",
            "token",
            f"a payer ({PAYER_SYSTEM}|<scheme>/<layer>) or a provider ({PROVIDER_SYSTEM}|<code>); an OR list",
            _standard("Organization", "identifier"),
        ),
        SearchParameter("type", "token", "pay (the payers) or prov (the providers)", _standard("Organization", "type")),
    ),
    "ServiceRequest": (
        SearchParameter(
            "patient", "reference", "Patient/<id>, <id> or the absolute URL", _standard("ServiceRequest", "patient")
        ),
        SearchParameter(
            "identifier",
            "token",
            f"a referral letter's number: {REFERRAL_LETTER_SYSTEM}|<number>",
            _standard("ServiceRequest", "identifier"),
        ),
    ),
    "CodeSystem": (SearchParameter("url", "uri", "the canonical URL", _standard("CodeSystem", "url")),),
    "StructureDefinition": (
        SearchParameter("url", "uri", "the canonical URL", _standard("StructureDefinition", "url")),
    ),
}
COMMON_SEARCH_PARAMS = (
    SearchParameter("_count", "number", "page size: default 50, at most 500 (a larger number is capped)"),
    SearchParameter("_offset", "number", "matches to skip: the paging links carry it"),
    SearchParameter("_summary", "token", "count: the total alone, no entries"),
    SearchParameter("_elements", "string", "the elements to keep in each entry (mandatory ones stay), SUBSETTED"),
)
READ_TYPES = (
    "Patient",
    "Group",
    "Organization",
    "Location",
    "Coverage",
    "ServiceRequest",
    "Claim",
    "ClaimResponse",
    "ExplanationOfBenefit",
    "PaymentReconciliation",
    "CodeSystem",
    "StructureDefinition",
    "OperationDefinition",
)
_TYPE_DOCUMENTATION = {
    "Organization": "Providers (Organization/<id>, type prov) and payers (Organization/payer-<scheme>-<layer>, "
    f"type pay, identifier {PAYER_SYSTEM}|<scheme>/<layer>, the same in every policy year).",
    "Claim": "POST a Claim (create): settled in real time and stored; the answer is the Claim as stored, with an "
    "absolute Location. POST Claim/$submit: the same settlement, answered with the ClaimResponse. Idempotent on "
    f"the identifier of system {CLAIM_SYSTEM}. Claim.total must equal the sum of item.net; each Coverage named "
    "in insurance must be the patient's, in force on the date. Claim.referral: a ServiceRequest (a referral "
    f"letter, by reference or by identifier {REFERRAL_LETTER_SYSTEM}|<number>) must hold for the patient, the "
    "facility and the date, as for any claim that names a letter; a referral given as text alone is the "
    "submitter's word.",
    "ServiceRequest": "Referral letters (ServiceRequest/<id>, identifier "
    f"{REFERRAL_LETTER_SYSTEM}|<number>): requester the facility that wrote it, performer the facility or "
    "performerType the level of care it sends to.",
    "Coverage": "One Coverage per layer of the policy in force (<person>.<policy version>.<layer>); identifier: "
    f"the member's card number, system {CARD_SYSTEM_PREFIX}<scheme>.",
    "ClaimResponse": "One item per Claim item (each amount shared in proportion to the item's net).",
    "ExplanationOfBenefit": "benefitBalance: each capped layer's annual cap and what is used of it.",
    "CodeSystem": "The local code systems, at their canonical URLs (" + BASE + "/CodeSystem/<id>).",
    "Patient": "Each category the person holds or held (registered poor, near-poor...): a coverage-category "
    f"extension ({COVERAGE_CATEGORY_EXTENSION}) with its code, period, source and, when a targeting round gave "
    "it, the round's list (Group).",
    "Group": "A household (Group/<household id>), or a targeting round's list of one category "
    f"(Group/targeting-<round>-<category>, identifier {TARGETING_ROUND_SYSTEM}|<round>/<category>): each member "
    "a Patient with the period the category holds for them.",
    "StructureDefinition": "The local extensions, at their canonical URLs (" + BASE + "/StructureDefinition/<id>).",
}
SUBMIT_OPERATION = f"{BASE}/OperationDefinition/Claim-submit"
TOKEN_ENDPOINT_EXTENSION = f"{BASE}/StructureDefinition/token-endpoint"
RESTFUL_SECURITY_SERVICE_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def capability_statement(
    *, software_version: str, base_url: str = "", token_url: str = "", released: dt.date | None = None
) -> CapabilityStatement:
    """What the server serves: each resource's interactions and search parameters, the paging
    parameters, the Claim/$submit operation, and how to sign in (``security``)."""
    resources = []
    for resource_type in READ_TYPES:
        interactions = [{"code": "read"}]
        entry: dict[str, Any] = {"type": resource_type}
        if resource_type in SEARCH_PARAMS:
            interactions.append({"code": "search-type"})
            entry["searchParam"] = [
                {
                    "name": param.name,
                    "type": param.kind,
                    "documentation": param.documentation,
                    **({"definition": param.definition} if param.definition else {}),
                }
                for param in SEARCH_PARAMS[resource_type] + COMMON_SEARCH_PARAMS
            ]
        if resource_type == "Claim":
            interactions.append({"code": "create"})
            entry["operation"] = [{"name": "submit", "definition": SUBMIT_OPERATION}]
        entry["interaction"] = interactions
        if resource_type in _TYPE_DOCUMENTATION:
            entry["documentation"] = _TYPE_DOCUMENTATION[resource_type]
        resources.append(entry)
    resources.append(
        {
            "type": "CoverageEligibilityRequest",
            "interaction": [{"code": "create"}],
            "documentation": (
                "POST a CoverageEligibilityRequest: the answer is a CoverageEligibilityResponse (the request is "
                "not stored: the response names it by its identifier)."
            ),
        }
    )
    security: dict[str, Any] = {
        "cors": False,
        "service": [
            {
                "text": 'Bearer token (RFC 6750): POST {"username", "password"} to the token endpoint, then send '
                "Authorization: Bearer <token>. Not OAuth 2 and not SMART on FHIR."
            }
        ],
        "description": (
            "Sign in at the token endpoint"
            + (f" ({token_url})" if token_url else "")
            + "; every request carries Authorization: Bearer <token>. Results are limited to the user's area and "
            "facility: a record outside them is 403. Only /metadata and the conformance resources (CodeSystem, "
            "StructureDefinition, OperationDefinition) are served without sign-in."
        ),
    }
    if token_url:
        security["extension"] = [{"url": TOKEN_ENDPOINT_EXTENSION, "valueUri": token_url}]
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
                    "security": security,
                    "resource": resources,
                    "searchParam": [
                        {"name": param.name, "type": param.kind, "documentation": param.documentation}
                        for param in COMMON_SEARCH_PARAMS
                    ],
                }
            ],
        },
    )


# ---------------------------------------------------------------- local code systems and extensions


@dataclass(frozen=True, slots=True)
class LocalCodeSystem:
    id: str
    name: str
    title: str
    description: str

    @property
    def url(self) -> str:
        return f"{BASE}/CodeSystem/{self.id}"


LOCAL_CODE_SYSTEMS = (
    LocalCodeSystem(
        "layer", "Layer", "Layers of the payer cascade", "The layers of the stored policies; display: the payer."
    ),
    LocalCodeSystem("care-type", "CareType", "Care types", "The care types the stored policies settle."),
    LocalCodeSystem("allowance", "Allowance", "Allowances", "Allowances paid to the member beside the bill."),
    LocalCodeSystem(
        "adjudication", "Adjudication", "Local adjudication categories", "Adjudication categories HL7's set lacks."
    ),
    LocalCodeSystem(
        "zero-reason", "ZeroReason", "Why a claim was settled with nothing", "The claims service's zero reasons."
    ),
)


def code_system(system: LocalCodeSystem, codes: Mapping[str, str]) -> Resource:
    """A local CodeSystem with every code (``content`` complete), served at its canonical URL."""
    from fhir.resources.R4B.codesystem import CodeSystem

    return _validated(
        CodeSystem,
        {
            "resourceType": "CodeSystem",
            "id": system.id,
            "url": system.url,
            "name": system.name,
            "title": system.title,
            "status": "active",
            "description": system.description,
            "caseSensitive": True,
            "content": "complete",
            "count": len(codes),
            **(
                {"concept": [{"code": code, "display": display} for code, display in sorted(codes.items())]}
                if codes
                else {}
            ),
        },
    )


@dataclass(frozen=True, slots=True)
class LocalExtension:
    id: str
    name: str
    description: str
    contexts: tuple[str, ...]
    value_type: str
    target_profile: str | None = None
    # A complex extension: its parts (url, value type, required), no value of its own; repeatable.
    parts: tuple[tuple[str, str, bool], ...] = ()

    @property
    def url(self) -> str:
        return f"{BASE}/StructureDefinition/{self.id}"


LOCAL_EXTENSIONS = (
    LocalExtension("name-script", "NameScript", "ISO 15924 script of a name as written.", ("HumanName",), "code"),
    LocalExtension(
        "eligible-amount",
        "EligibleAmount",
        "The part of the bill inside the benefit catalogue (default: the total).",
        ("Claim",),
        "Money",
    ),
    LocalExtension(
        "zero-reason",
        "ZeroReason",
        f"Why a claim was settled with nothing (a code of {BASE}/CodeSystem/zero-reason).",
        ("ClaimResponse",),
        "code",
    ),
    LocalExtension(
        "address-location",
        "AddressLocation",
        "The registry's area where the person lives.",
        ("Address",),
        "Reference",
        "http://hl7.org/fhir/StructureDefinition/Location",
    ),
    LocalExtension(
        "token-endpoint",
        "TokenEndpoint",
        "Where a client exchanges a username and password for a bearer token.",
        ("CapabilityStatement.rest.security",),
        "uri",
    ),
    LocalExtension(
        "coverage-category",
        "CoverageCategory",
        "A category the person holds or held (the registry's, e.g. registered poor): code (system "
        f"{CATEGORY_SYSTEM}-<programme> when a programme's targeting rules gave it), period of validity, source "
        "(the decision, e.g. a targeting round) and list (the round's Group of the category).",
        ("Patient",),
        "",
        parts=(
            ("code", "Coding", True),
            ("period", "Period", True),
            ("source", "string", False),
            ("list", "Reference", False),
        ),
    ),
)


def extension_definition(extension: LocalExtension) -> Resource:
    """A local extension as a StructureDefinition (a constraint on Extension with one value)."""
    if extension.parts:
        return _complex_extension_definition(extension)
    value_type: dict[str, Any] = {"code": extension.value_type}
    if extension.target_profile:
        value_type["targetProfile"] = [extension.target_profile]
    return _extension_structure_definition(
        extension,
        [
            {
                "id": "Extension",
                "path": "Extension",
                "short": extension.name,
                "definition": extension.description,
                "max": "1",
            },
            {"id": "Extension.extension", "path": "Extension.extension", "max": "0"},
            {"id": "Extension.url", "path": "Extension.url", "fixedUri": extension.url},
            {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1, "type": [value_type]},
        ],
    )


def _extension_structure_definition(extension: LocalExtension, elements: list[dict[str, Any]]) -> Resource:
    """The StructureDefinition common to simple and complex local extensions, around their elements."""
    from fhir.resources.R4B.structuredefinition import StructureDefinition

    return _validated(
        StructureDefinition,
        {
            "resourceType": "StructureDefinition",
            "id": extension.id,
            "url": extension.url,
            "name": extension.name,
            "status": "active",
            "description": extension.description,
            "fhirVersion": FHIR_VERSION,
            "kind": "complex-type",
            "abstract": False,
            "context": [{"type": "element", "expression": context} for context in extension.contexts],
            "type": "Extension",
            "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Extension",
            "derivation": "constraint",
            "differential": {"element": elements},
        },
    )


def _complex_extension_definition(extension: LocalExtension) -> Resource:
    """A complex local extension: sliced sub-extensions by url, no value of its own."""
    elements: list[dict[str, Any]] = [
        {"id": "Extension", "path": "Extension", "short": extension.name, "definition": extension.description},
        {
            "id": "Extension.extension",
            "path": "Extension.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        },
    ]
    for name, value_type, required in extension.parts:
        slice_id = f"Extension.extension:{name}"
        elements += [
            {
                "id": slice_id,
                "path": "Extension.extension",
                "sliceName": name,
                "min": 1 if required else 0,
                "max": "1",
            },
            {"id": f"{slice_id}.url", "path": "Extension.extension.url", "fixedUri": name},
            {"id": f"{slice_id}.value[x]", "path": "Extension.extension.value[x]", "type": [{"code": value_type}]},
        ]
    elements += [
        {"id": "Extension.url", "path": "Extension.url", "fixedUri": extension.url},
        {"id": "Extension.value[x]", "path": "Extension.value[x]", "max": "0"},
    ]
    return _extension_structure_definition(extension, elements)


def submit_operation_definition() -> Resource:
    """``Claim/$submit``: a Claim in, settled in real time, its ClaimResponse out."""
    from fhir.resources.R4B.operationdefinition import OperationDefinition

    return _validated(
        OperationDefinition,
        {
            "resourceType": "OperationDefinition",
            "id": "Claim-submit",
            "url": SUBMIT_OPERATION,
            "name": "ClaimSubmit",
            "status": "active",
            "kind": "operation",
            "description": "Settle a Claim in real time through the payer cascade and answer its ClaimResponse. "
            "The body is the Claim itself.",
            "code": "submit",
            "resource": ["Claim"],
            "system": False,
            "type": True,
            "instance": False,
            "parameter": [
                {"name": "resource", "use": "in", "min": 1, "max": "1", "type": "Claim"},
                {"name": "return", "use": "out", "min": 1, "max": "1", "type": "ClaimResponse"},
            ],
        },
    )
