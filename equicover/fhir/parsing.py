"""FHIR input -> what the claims service takes.

Every refusal is a :class:`FhirInputError` carrying the HTTP status and the OperationOutcome
issues, following the FHIR REST rules:

- **400**: the body is not JSON, not a JSON object, has the wrong ``resourceType``, or fails
  ``fhir.resources`` validation (a missing required element, a wrong type, a bad code);
- **422**: a valid resource that breaks our rules: no claim identifier, a reference to a patient
  or provider that does not exist, an amount with more decimals than the currency has, ...

Messages name the element (FHIRPath) and ids only, never the values sent: they may be personal
data, and messages end up in logs.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError
from sqlalchemy.orm import Session

from equicover.fhir_mapping import (
    CARE_TYPE_SYSTEM,
    CLAIM_SYSTEM,
    ELIGIBLE_AMOUNT_EXTENSION,
    ICD10_SYSTEM,
    PERSON_SYSTEM,
    PROVIDER_SYSTEM,
    id_type_of_system,
)

MAX_ISSUES = 20
MAX_ROW_ID = 2**31 - 1  # row ids are INTEGER columns: a larger number names nothing (and PostgreSQL would refuse it)


def row_id(text: str) -> int | None:
    """``"42"`` -> 42; None for anything that cannot be a row id (not digits, 0, out of range)."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


class FhirInputError(Exception):
    """Bad FHIR input: ``status`` 400 or 422 and OperationOutcome issues (type, message, expression)."""

    def __init__(self, status: int, issues: list[tuple[str, str, str | None]]) -> None:
        super().__init__("; ".join(message for _code, message, _expression in issues))
        self.status = status
        self.issues = issues


def _fail(status: int, code: str, message: str, expression: str | None = None) -> FhirInputError:
    return FhirInputError(status, [(code, message, expression)])


def read_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; decimals read as ``Decimal`` (never through a float)."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise _fail(400, "structure", "the body is not JSON") from None
    except RecursionError:
        raise _fail(400, "structure", "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise _fail(400, "structure", "the body is not a JSON object (a FHIR resource)")
    return data


def validate_resource(data: dict[str, Any], model: type[FHIRAbstractModel]) -> Any:
    """``data`` as a ``model`` instance, or 400 with one issue per validation error."""
    expected = model.get_resource_type()
    found = data.get("resourceType")
    if found != expected:
        shown = found if isinstance(found, str) and found.isalnum() and len(found) <= 64 else "(missing or invalid)"
        raise _fail(400, "invalid", f"resourceType must be {expected}, got {shown}", "resourceType")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        issues: list[tuple[str, str, str | None]] = []
        for item in error.errors(include_input=False)[:MAX_ISSUES]:
            location = ".".join(str(part) for part in item.get("loc", ()) if part != "__root__")
            expression = f"{expected}.{location}" if location else expected
            issues.append(
                (
                    "structure" if item.get("type") == "missing" else "value",
                    f"{expression}: {item.get('msg', 'invalid')}",
                    expression,
                )
            )
        raise FhirInputError(400, issues or [("invalid", f"not a valid {expected}", expected)]) from None
    except (ValueError, TypeError, RecursionError):
        raise _fail(400, "invalid", f"not a valid {expected}", expected) from None


# ---------------------------------------------------------------- references


@dataclass(frozen=True, slots=True)
class PatientRef:
    """A patient named by id (``Patient/42``) or by identifier (system, value)."""

    person_id: int | None = None
    system: str | None = None
    value: str | None = None


def _reference_id(reference: Any, resource_type: str, expression: str) -> int | None:
    text = getattr(reference, "reference", None)
    if text is None:
        return None
    prefix = f"{resource_type}/"
    tail = text.rsplit("/", 2)
    # Accept "Patient/42" and absolute ".../Patient/42".
    if len(tail) >= 2 and tail[-2] == resource_type and tail[-1].isascii() and tail[-1].isdigit():
        found = row_id(tail[-1])
        if found is None:
            raise _fail(422, "not-found", f"{expression}: no such {resource_type} here", expression)
        return found
    raise _fail(422, "value", f"{expression} must be {prefix}<id> of this server", expression)


def patient_ref(reference: Any, expression: str) -> PatientRef:
    if reference is None:
        raise _fail(422, "required", f"{expression} is required", expression)
    person_id = _reference_id(reference, "Patient", expression)
    if person_id is not None:
        return PatientRef(person_id=person_id)
    identifier = getattr(reference, "identifier", None)
    if identifier is not None and identifier.system and identifier.value:
        return PatientRef(system=identifier.system, value=identifier.value)
    raise _fail(422, "required", f"{expression} must give a reference or an identifier (system and value)", expression)


def text_value(value: str, expression: str, *, max_length: int = 200) -> str:
    """A text about to be compared in the database: PostgreSQL refuses NUL characters."""
    if "\x00" in value or len(value) > max_length:
        raise _fail(422, "value", f"{expression} is not an acceptable value", expression)
    return value


def resolve_patient(*, session: Session, ref: PatientRef, expression: str) -> int:
    """The person id ``ref`` names, or 422 if no such person is registered."""
    from equicover.registry.models import Person  # the registry's model; lookups go through its service
    from equicover.registry.service import find_person_by_national_id

    if ref.person_id is not None:
        if session.get(Person, ref.person_id) is None:
            raise _fail(422, "not-found", f"{expression}: unknown patient Patient/{ref.person_id}", expression)
        return ref.person_id
    assert ref.system is not None and ref.value is not None
    if ref.system == PERSON_SYSTEM:
        person_id = row_id(ref.value)
        if person_id is None:
            raise _fail(422, "not-found", f"{expression}: no registered patient has this identifier", expression)
        return resolve_patient(session=session, ref=PatientRef(person_id=person_id), expression=expression)
    id_type = id_type_of_system(text_value(ref.system, expression, max_length=300))
    national_id = text_value(ref.value, expression)
    person = find_person_by_national_id(session=session, id_type=id_type, national_id=national_id) if id_type else None
    if person is None:
        raise _fail(422, "not-found", f"{expression}: no registered patient has this identifier", expression)
    return person.id


def provider_id_of(*, session: Session, reference: Any, expression: str) -> int:
    from equicover.providers.models import Provider

    if reference is None:
        raise _fail(422, "required", f"{expression} is required", expression)
    provider_id = _reference_id(reference, "Organization", expression)
    if provider_id is None:
        identifier = getattr(reference, "identifier", None)
        if identifier is not None and identifier.system == PROVIDER_SYSTEM and identifier.value:
            from sqlalchemy import select

            code = text_value(identifier.value, expression)
            provider_id = session.scalar(select(Provider.id).where(Provider.code == code))
            if provider_id is None:
                raise _fail(422, "not-found", f"{expression}: unknown provider code", expression)
            return provider_id
        raise _fail(422, "required", f"{expression} must be Organization/<id> or a provider identifier", expression)
    if session.get(Provider, provider_id) is None:
        raise _fail(422, "not-found", f"{expression}: unknown provider Organization/{provider_id}", expression)
    return provider_id


# ---------------------------------------------------------------- money


def to_minor(value: Decimal, minor_digits: int, expression: str) -> int:
    """An exact FHIR decimal -> integer minor units; 422 if negative or too precise."""
    try:
        scaled = Decimal(value) * (Decimal(10) ** minor_digits)
    except (InvalidOperation, TypeError):
        raise _fail(422, "value", f"{expression} is not a decimal amount", expression) from None
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise _fail(422, "value", f"{expression} has more than {minor_digits} decimal places", expression)
    if scaled < 0:
        raise _fail(422, "value", f"{expression} is negative", expression)
    if scaled >= 2**63:
        raise _fail(422, "value", f"{expression} is too large", expression)
    return int(scaled)


# ---------------------------------------------------------------- Claim


@dataclass(frozen=True, slots=True)
class ParsedItem:
    """One ``Claim.item``: its sequence, net (exact decimal), what it was for and when."""

    sequence: int
    net: Decimal
    product_or_service: dict[str, Any]
    serviced_date: str | None


@dataclass(frozen=True, slots=True)
class ParsedClaim:
    """A FHIR Claim as the claims service needs it; amounts still exact decimals of ``currency``."""

    claim_id: str
    patient: PatientRef
    provider: Any  # the Reference, resolved with :func:`provider_id_of`
    service_date: dt.date
    days: int
    care_type: str
    diagnosis: str
    referred: bool
    total: Decimal
    eligible: Decimal
    currency: str | None
    items: tuple[ParsedItem, ...] = ()
    insurance: tuple[dict[str, Any], ...] = ()
    referral: dict[str, Any] | None = None  # Claim.referral as sent: a ServiceRequest reference or identifier


_CLAIM_TYPE_CARE_TYPE = {"institutional": "inpatient"}


def _claim_identifier(claim: FhirClaim) -> str:
    identifiers = claim.identifier or []
    chosen = next((item.value for item in identifiers if item.system == CLAIM_SYSTEM and item.value), None)
    chosen = chosen or next((item.value for item in identifiers if item.value), None)
    if chosen is None:
        raise _fail(
            422,
            "required",
            f"Claim.identifier: a claim id is required (system {CLAIM_SYSTEM}): it makes resubmission safe",
            "Claim.identifier",
        )
    value = chosen.strip()
    if not value or len(value) > 64:
        raise _fail(422, "value", "Claim.identifier.value must be 1 to 64 characters", "Claim.identifier")
    return value


def _codes(concept: Any) -> list[tuple[str | None, str]]:
    if concept is None:
        return []
    return [(coding.system, coding.code) for coding in (concept.coding or []) if coding.code]


def _care_type(claim: FhirClaim) -> str:
    for system, code in _codes(claim.subType):
        if system == CARE_TYPE_SYSTEM:
            return code
    for _system, code in _codes(claim.type):
        if code in _CLAIM_TYPE_CARE_TYPE:
            return _CLAIM_TYPE_CARE_TYPE[code]
    return "outpatient"


def _diagnosis(claim: FhirClaim) -> str:
    # sequence is required (1..1): validation has refused a diagnosis without one
    diagnoses = sorted(claim.diagnosis or [], key=lambda item: item.sequence or 0)
    for item in diagnoses:
        codes = _codes(item.diagnosisCodeableConcept)
        preferred = [code for system, code in codes if system == ICD10_SYSTEM] or [code for _system, code in codes]
        if preferred:
            return preferred[0].strip().upper()
    raise _fail(422, "required", "Claim.diagnosis: a principal diagnosis (ICD-10 code) is required", "Claim.diagnosis")


def _service_dates(claim: FhirClaim) -> tuple[dt.date, int]:
    period = claim.billablePeriod
    start = _as_date(period.start) if period is not None and period.start is not None else None
    end = _as_date(period.end) if period is not None and period.end is not None else None
    if start is None:
        for item in claim.item or []:
            if item.servicedDate is not None:
                start = item.servicedDate
                break
            if item.servicedPeriod is not None and item.servicedPeriod.start is not None:
                start = _as_date(item.servicedPeriod.start)
                break
    if start is None:
        raise _fail(
            422,
            "required",
            "Claim.billablePeriod.start (or item.servicedDate) is required",
            "Claim.billablePeriod.start",
        )
    days = 0 if end is None else (end - start).days
    if days < 0:
        raise _fail(422, "value", "Claim.billablePeriod.end is before its start", "Claim.billablePeriod.end")
    return start, days


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise _fail(422, "value", "a date must be a full date (YYYY-MM-DD)", None) from None


def _items(data: dict[str, Any], claim: FhirClaim) -> tuple[ParsedItem, ...]:
    """Every item, each with its net: an item without one cannot be adjudicated on its own."""
    items = []
    sequences: set[int] = set()
    for index, item in enumerate(claim.item or []):
        expression = f"Claim.item[{index}]"
        if item.net is None or item.net.value is None:
            raise _fail(422, "required", f"{expression}.net is required (what the item costs)", f"{expression}.net")
        sequence = item.sequence if item.sequence is not None else index + 1  # required: validation saw it
        if sequence in sequences:
            raise _fail(422, "value", f"{expression}.sequence repeats an earlier item's", f"{expression}.sequence")
        sequences.add(sequence)
        served = item.servicedDate.isoformat() if item.servicedDate is not None else None
        raw = data["item"][index]
        items.append(
            ParsedItem(
                sequence=sequence,
                net=Decimal(item.net.value),
                product_or_service=_plain_json(raw.get("productOrService")),
                serviced_date=served,
            )
        )
    return tuple(items)


def _plain_json(value: Any) -> Any:
    """A JSON value as sent, with exact decimals turned back to JSON numbers' text values."""
    return json.loads(json.dumps(value, default=str))


def _amounts(claim: FhirClaim, items: tuple[ParsedItem, ...]) -> tuple[Decimal, Decimal, str | None]:
    currencies: set[str] = set()
    nets = [item.net for item in claim.item or [] if item.net is not None and item.net.value is not None]
    currencies.update(net.currency for net in nets if net.currency)
    items_total = sum((item.net for item in items), Decimal(0))
    if claim.total is not None and claim.total.value is not None:
        total = Decimal(claim.total.value)
        if claim.total.currency:
            currencies.add(claim.total.currency)
        if items and total != items_total:
            raise _fail(
                422,
                "value",
                "Claim.total is not the sum of item.net: a bill must add up before it is settled",
                "Claim.total",
            )
    else:
        if not items:
            raise _fail(422, "required", "Claim.total (or item.net) is required", "Claim.total")
        total = items_total
    eligible = total
    for extension in claim.extension or []:
        if extension.url == ELIGIBLE_AMOUNT_EXTENSION:
            money = extension.valueMoney
            if money is None or money.value is None:
                raise _fail(422, "required", "the eligible-amount extension needs valueMoney", "Claim.extension")
            eligible = Decimal(money.value)
            if money.currency:
                currencies.add(money.currency)
    if len(currencies) > 1:
        raise _fail(422, "value", "Claim amounts are in more than one currency", "Claim.total.currency")
    if eligible > total:
        raise _fail(422, "value", "the eligible amount is more than Claim.total", "Claim.extension")
    return total, eligible, next(iter(currencies), None)


def _amounts_are_json_numbers(data: dict[str, Any]) -> None:
    """A FHIR decimal is a JSON number: ``"1000"`` as an amount is not FHIR JSON and is refused
    (400, like any other malformed resource), not read as 1000 the way the resource model would
    coerce it."""
    found: list[tuple[str, object]] = []
    total = data.get("total")
    if isinstance(total, dict) and "value" in total:
        found.append(("Claim.total.value", total["value"]))
    for index, item in enumerate(data.get("item") or []):
        net = item.get("net") if isinstance(item, dict) else None
        if isinstance(net, dict) and "value" in net:
            found.append((f"Claim.item[{index}].net.value", net["value"]))
    for index, extension in enumerate(data.get("extension") or []):
        money = extension.get("valueMoney") if isinstance(extension, dict) else None
        if isinstance(money, dict) and "value" in money:
            found.append((f"Claim.extension[{index}].valueMoney.value", money["value"]))
    for expression, value in found:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise _fail(400, "structure", f"{expression} must be a JSON number (a decimal amount)", expression)


def parse_claim(data: dict[str, Any]) -> ParsedClaim:
    """A FHIR Claim (JSON object) -> :class:`ParsedClaim`; references are resolved later.

    Mapping: ``identifier`` (system ``{BASE}/sid/claim``, else the first) -> claim_id, the
    idempotency key; ``patient`` -> the person (``Patient/<id>`` or a national-ID identifier);
    ``provider`` -> ``Organization/<id>``; ``billablePeriod.start`` (else the first
    ``item.servicedDate``) -> service date, ``billablePeriod.end - start`` -> days;
    ``subType`` of system ``{BASE}/CodeSystem/care-type`` -> care type (else ``type``
    institutional -> inpatient, anything else -> outpatient); the first ``diagnosis`` by
    sequence (ICD-10) -> diagnosis; ``referral`` present -> referred (a ServiceRequest reference or a letter's
    identifier: the letter is checked as any claim's); ``total`` (else the sum of
    ``item.net``) -> total; extension ``{BASE}/StructureDefinition/eligible-amount`` -> eligible
    part (default: the total).
    """
    claim: FhirClaim = validate_resource(data, FhirClaim)
    _amounts_are_json_numbers(data)
    if claim.use not in (None, "claim"):
        raise _fail(
            422,
            "not-supported",
            "only Claim.use = claim is settled (no preauthorization or predetermination)",
            "Claim.use",
        )
    service_date, days = _service_dates(claim)
    items = _items(data, claim)
    total, eligible, currency = _amounts(claim, items)
    return ParsedClaim(
        claim_id=_claim_identifier(claim),
        patient=patient_ref(claim.patient, "Claim.patient"),
        provider=claim.provider,
        service_date=service_date,
        days=days,
        care_type=_care_type(claim),
        diagnosis=_diagnosis(claim),
        referred=claim.referral is not None,
        total=total,
        eligible=eligible,
        currency=currency,
        items=items,
        insurance=tuple(_plain_json(entry) for entry in data.get("insurance") or []),
        referral=_plain_json(data["referral"]) if isinstance(data.get("referral"), dict) else None,
    )


# ---------------------------------------------------------------- CoverageEligibilityRequest


@dataclass(frozen=True, slots=True)
class ParsedEligibilityRequest:
    patient: PatientRef
    serviced_on: dt.date
    purpose: tuple[str, ...]
    request_identifier: dict[str, str] | None


def parse_eligibility_request(data: dict[str, Any], *, today: dt.date | None = None) -> ParsedEligibilityRequest:
    """``patient`` and ``servicedDate`` (else ``servicedPeriod.start``, else today)."""
    request: CoverageEligibilityRequest = validate_resource(data, CoverageEligibilityRequest)
    if request.servicedDate is not None:
        on = request.servicedDate
    elif request.servicedPeriod is not None and request.servicedPeriod.start is not None:
        on = _as_date(request.servicedPeriod.start)
    else:
        on = today or dt.date.today()
    return ParsedEligibilityRequest(
        patient=patient_ref(request.patient, "CoverageEligibilityRequest.patient"),
        serviced_on=on,
        purpose=tuple(code for code in request.purpose or () if code is not None) or ("validation",),
        request_identifier=_first_identifier(request.identifier),
    )


def _first_identifier(identifiers: Any) -> dict[str, str] | None:
    for identifier in identifiers or []:
        if identifier.value:
            found = {"value": text_value(identifier.value, "CoverageEligibilityRequest.identifier")}
            if identifier.system:
                found["system"] = text_value(identifier.system, "CoverageEligibilityRequest.identifier", max_length=300)
            return found
    return None
