"""The pure FHIR mapping and parsing: every resource re-validates from its JSON with the
``fhir.resources`` R4B model class, money is exact, bad input is refused with 400/422."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation
from hypothesis import given
from hypothesis import strategies as st

from equicover import fhir_mapping as mapping
from equicover.fhir.parsing import FhirInputError, parse_claim, parse_eligibility_request, read_json, to_minor

PERSON = SimpleNamespace(
    id=11,
    national_id="KH-0042",
    id_type="idpoor",
    full_name="សុខ ចាន់",
    family_name="សុខ",
    given_name="ចាន់",
    name_script="Khmr",
    sex="female",
    birth_date=dt.date(1985, 3, 4),
    death_date=None,
    phone=None,
    location_id=5,
)
PROVIDER = SimpleNamespace(
    id=7, code="RH-01", name="Referral hospital", level="RH", ownership="public", designated=True, location_id=4
)
CLAIM = SimpleNamespace(
    id=9,
    claim_id="C-1",
    person_id=11,
    provider_id=7,
    care_type="inpatient",
    service_date=dt.date(2018, 5, 1),
    days=3,
    total=123450,
    eligible=100000,
    referred=True,
    status="settled",
    submitted_at=dt.datetime(2018, 5, 4, 10, 0),
    diagnosis="K35.8",
    member_oop=10000,
    provider_writeoff=-550,
    zero_reason=None,
)
PAYMENTS = (
    mapping.PaymentLine("layer", "basic", "Basic medical insurance", 80000),
    mapping.PaymentLine("layer", "critical_illness", "Critical illness insurance", 0),
    mapping.PaymentLine("layer", "tilt", "County tilt payment", 34000),
    mapping.PaymentLine("allowance", "food", "allowance", 15000),
)
SETTLED = mapping.SettledClaim(
    claim=CLAIM,
    payments=PAYMENTS,
    currency="CNY",
    minor_digits=2,
    policy_id="cn-yaan-2018",
    policy_name="Ya'an",
    coverage_ids=("11.2.basic", "11.2.critical-illness", "11.2.tilt"),
)
COVERAGE = mapping.CoverageInForce(
    person_id=11,
    policy_version_id=2,
    policy_id="cn-yaan-2018",
    policy_name="Ya'an",
    scheme_code="CN-BMI",
    currency="CNY",
    minor_digits=2,
    period_start=dt.date(2018, 1, 1),
    period_end=dt.date(2018, 12, 31),
    benefit_year_start=dt.date(2018, 1, 1),
    benefit_year_end=dt.date(2018, 12, 31),
    layers=(
        mapping.LayerStanding("basic", "Basic medical insurance", 1, "cap_per_year", 15_000_000, 80000),
        mapping.LayerStanding("critical_illness", "Critical illness insurance", 2),
        mapping.LayerStanding("tilt", "County tilt payment", 3, "max_per_year", 500_000, 12345),
    ),
)


def revalidated(resource, model):
    """The JSON the server would send, parsed back with the model class (exact decimals)."""
    text = mapping.to_json(resource)
    parsed = model.model_validate(json.loads(text, parse_float=Decimal))
    return parsed, json.loads(text, parse_float=Decimal)


def test_patient_carries_the_national_id_by_type_and_the_name_in_its_script() -> None:
    patient, data = revalidated(mapping.patient(PERSON), Patient)
    official = data["identifier"][0]
    assert official["system"] == "https://equicover.org/fhir/sid/id/idpoor" and official["value"] == "KH-0042"
    assert official["type"]["text"] == "IDPoor equity card"
    assert data["identifier"][1] == {"use": "secondary", "system": mapping.PERSON_SYSTEM, "value": "11"}
    name = data["name"][0]
    assert name["text"] == "សុខ ចាន់" and name["family"] == "សុខ" and name["given"] == ["ចាន់"]
    assert name["extension"] == [{"url": mapping.NAME_SCRIPT_EXTENSION, "valueCode": "Khmr"}]
    assert patient.gender == "female" and patient.birthDate == dt.date(1985, 3, 4)
    assert "សុខ ចាន់".encode() in mapping.to_json(mapping.patient(PERSON))  # UTF-8, not \\u escapes


def test_vneid_identifier_is_a_national_identifier() -> None:
    person = SimpleNamespace(
        **{**vars(PERSON), "id_type": "vneid", "national_id": "001099000123", "death_date": dt.date(2020, 1, 1)}
    )
    _patient, data = revalidated(mapping.patient(person), Patient)
    assert data["identifier"][0]["system"].endswith("/sid/id/vneid")
    assert data["identifier"][0]["type"]["coding"][0]["code"] == "NI"
    assert data["active"] is False and data["deceasedDateTime"] == "2020-01-01"
    assert mapping.id_type_of_system(data["identifier"][0]["system"]) == "vneid"


def test_household_area_and_provider_resources() -> None:
    group, data = revalidated(mapping.household_group(SimpleNamespace(id=3, code="H1", location_id=5), [PERSON]), Group)
    assert data["type"] == "person" and data["actual"] is True and data["quantity"] == 1
    assert data["member"][0]["entity"]["reference"] == "Patient/11"
    _area, area = revalidated(
        mapping.area_location(SimpleNamespace(id=5, code="C11", name="Commune", level="commune", parent_id=4)), Location
    )
    assert area["partOf"] == {"reference": "Location/4"} and area["physicalType"]["coding"][0]["code"] == "jdn"
    _top, top = revalidated(
        mapping.area_location(SimpleNamespace(id=1, code="VN", name="Country", level="country", parent_id=None)),
        Location,
    )
    assert "partOf" not in top
    _org, org = revalidated(mapping.provider_organization(PROVIDER), Organization)
    assert org["identifier"][0]["value"] == "RH-01" and org["type"][0]["coding"][0]["code"] == "prov"
    _site, site = revalidated(mapping.provider_location(PROVIDER), Location)
    assert site["id"] == "provider-7" and site["partOf"] == {"reference": "Location/4"}
    assert site["managingOrganization"] == {"reference": "Organization/7"}


def test_one_coverage_per_layer_in_cascade_order() -> None:
    coverages = [revalidated(resource, Coverage)[1] for resource in mapping.coverages(COVERAGE)]
    assert [coverage["order"] for coverage in coverages] == [1, 2, 3]
    assert [coverage["id"] for coverage in coverages] == ["11.2.basic", "11.2.critical-illness", "11.2.tilt"]
    assert [coverage["class"][1]["value"] for coverage in coverages] == ["basic", "critical_illness", "tilt"]
    assert all(coverage["beneficiary"] == {"reference": "Patient/11"} for coverage in coverages)
    assert mapping.parse_coverage_id("11.2.critical-illness") == (11, 2, "critical_illness")
    assert mapping.parse_coverage_id("x.2.basic") is None and mapping.parse_coverage_id("11.2") is None


def test_eligibility_response_gives_allowed_and_used_of_each_annual_cap() -> None:
    _response, data = revalidated(
        mapping.eligibility_response(person_id=11, serviced_on=dt.date(2018, 6, 1), coverages_in_force=[COVERAGE]),
        CoverageEligibilityResponse,
    )
    assert [entry["coverage"]["reference"] for entry in data["insurance"]] == [
        "Coverage/11.2.basic",
        "Coverage/11.2.critical-illness",
        "Coverage/11.2.tilt",
    ]
    basic = data["insurance"][0]["item"][0]["benefit"][0]
    assert basic["type"]["coding"][0]["code"] == "benefit"
    assert basic["allowedMoney"] == {"value": Decimal("150000.00"), "currency": "CNY"}
    assert basic["usedMoney"] == {"value": Decimal("800.00"), "currency": "CNY"}
    assert "item" not in data["insurance"][1]  # no annual cap
    tilt = data["insurance"][2]["item"][0]["benefit"][0]
    assert tilt["type"]["coding"][0]["code"] == "copay-maximum" and tilt["usedMoney"]["value"] == Decimal("123.45")
    _none, uncovered = revalidated(
        mapping.eligibility_response(
            person_id=11, serviced_on=dt.date(2018, 6, 1), coverages_in_force=[], not_covered_reason="not_enrolled"
        ),
        CoverageEligibilityResponse,
    )
    assert "insurance" not in uncovered and uncovered["disposition"] == "not covered: not_enrolled"


def _amounts_of(adjudications, system: str) -> dict[str, Decimal]:
    return {
        entry["category"]["coding"][0]["code"]: entry["amount"]["value"]
        for entry in adjudications
        if entry["category"]["coding"][0]["system"] == system
    }


def test_claim_response_has_one_adjudication_per_layer_and_the_standard_codes() -> None:
    _response, data = revalidated(mapping.claim_response(SETTLED), ClaimResponse)
    adjudications = data["item"][0]["adjudication"]
    layers = [
        (entry["category"]["coding"][0]["code"], entry["amount"]["value"])
        for entry in adjudications
        if entry["category"]["coding"][0]["system"] == mapping.LAYER_SYSTEM
    ]
    assert layers == [("basic", Decimal("800.00")), ("critical_illness", Decimal("0.00")), ("tilt", Decimal("340.00"))]
    standard = _amounts_of(adjudications, mapping.ADJUDICATION_SYSTEM)
    assert standard == {
        "submitted": Decimal("1234.50"),
        "eligible": Decimal("1000.00"),
        "benefit": Decimal("1140.00"),
        "copay": Decimal("100.00"),
    }
    assert _amounts_of(adjudications, mapping.LOCAL_ADJUDICATION_SYSTEM) == {"provider-writeoff": Decimal("-5.50")}
    assert data["payment"]["amount"] == {"value": Decimal("1140.00"), "currency": "CNY"}
    assert data["request"] == {"reference": "Claim/9"} and data["status"] == "active"
    assert "allowance food: 150.00 CNY" in data["processNote"][0]["text"]


def test_claim_and_explanation_of_benefit_validate() -> None:
    _claim, claim = revalidated(mapping.claim_resource(SETTLED), Claim)
    assert claim["total"] == {"value": Decimal("1234.50"), "currency": "CNY"}
    assert claim["extension"][0] == {
        "url": mapping.ELIGIBLE_AMOUNT_EXTENSION,
        "valueMoney": {"value": Decimal("1000.00"), "currency": "CNY"},
    }
    assert claim["billablePeriod"] == {"start": "2018-05-01", "end": "2018-05-04"}
    assert [entry["coverage"]["reference"] for entry in claim["insurance"]] == [
        "Coverage/11.2.basic",
        "Coverage/11.2.critical-illness",
        "Coverage/11.2.tilt",
    ]
    reversed_claim = mapping.SettledClaim(
        claim=SimpleNamespace(**{**vars(CLAIM), "status": "reversed"}),
        payments=PAYMENTS,
        currency="CNY",
        minor_digits=2,
    )
    _eob, eob = revalidated(mapping.explanation_of_benefit(reversed_claim), ExplanationOfBenefit)
    assert eob["status"] == "cancelled" and eob["insurance"] == [
        {"focal": True, "coverage": {"display": "no coverage in force"}}
    ]
    assert eob["claimResponse"] == {"reference": "ClaimResponse/9"}


def test_a_claim_settled_with_nothing_names_its_reason() -> None:
    zero = SimpleNamespace(
        **{**vars(CLAIM), "zero_reason": "not_covered", "member_oop": 123450, "provider_writeoff": 0}
    )
    settled = mapping.SettledClaim(claim=zero, payments=(), currency="CNY", minor_digits=2)
    _response, data = revalidated(mapping.claim_response(settled), ClaimResponse)
    assert data["disposition"] == "settled with no payment: not_covered"
    assert data["extension"] == [{"url": mapping.ZERO_REASON_EXTENSION, "valueCode": "not_covered"}]
    assert data["payment"]["amount"]["value"] == Decimal("0.00")


def test_payment_reconciliation_sums_its_lines_exactly() -> None:
    resource = mapping.payment_reconciliation(
        batch_id="PB_2018_01",
        provider=PROVIDER,
        period=(dt.date(2018, 1, 1), dt.date(2018, 1, 31)),
        payer="Basic medical insurance",
        lines=[(9, 80000), ("C-77", 1), (12, -550), (None, 2000)],
        currency="CNY",
        minor_digits=2,
        status="active",
        outcome="complete",
        payment_date=dt.date(2018, 2, 5),
    )
    _parsed, data = revalidated(resource, PaymentReconciliation)
    assert data["id"] == "PB-2018-01" and data["identifier"][0]["value"] == "PB_2018_01"
    assert data["paymentAmount"] == {"value": Decimal("814.51"), "currency": "CNY"}
    assert [detail["amount"]["value"] for detail in data["detail"]] == [
        Decimal("800.00"),
        Decimal("0.01"),
        Decimal("-5.50"),
        Decimal("20.00"),
    ]
    assert [detail["type"]["coding"][0]["code"] for detail in data["detail"]] == [
        "payment",
        "payment",
        "adjustment",
        "payment",
    ]
    assert "request" not in data["detail"][3]  # capitation: not for a claim
    assert data["detail"][0]["request"] == {"reference": "Claim/9"}
    assert data["detail"][1]["request"]["identifier"] == {"system": mapping.CLAIM_SYSTEM, "value": "C-77"}
    assert (
        data["period"] == {"start": "2018-01-01", "end": "2018-01-31"}
        and data["paymentIssuer"]["display"] == "Basic medical insurance"
    )
    with pytest.raises(ValueError, match="status 'paid' is not a FHIR financial resource status"):
        mapping.payment_reconciliation(
            batch_id="B",
            provider=PROVIDER,
            period=(dt.date(2018, 1, 1), dt.date(2018, 1, 31)),
            payer="x",
            lines=[],
            currency="CNY",
            minor_digits=2,
            status="paid",
            payment_date=dt.date(2018, 2, 1),
        )


def test_bundle_outcome_and_capability_statement_validate() -> None:
    bundle, data = revalidated(mapping.searchset([mapping.patient(PERSON)], base_url="http://x/fhir/", total=3), Bundle)
    assert (
        data["type"] == "searchset" and data["total"] == 3 and data["entry"][0]["fullUrl"] == "http://x/fhir/Patient/11"
    )
    Patient.model_validate(data["entry"][0]["resource"])
    _empty, empty = revalidated(mapping.searchset([]), Bundle)
    assert empty["total"] == 0 and "entry" not in empty
    _outcome, outcome = revalidated(mapping.operation_outcome([("not-a-code", "bad", "Claim.total")]), OperationOutcome)
    assert outcome["issue"][0]["code"] == "processing" and outcome["issue"][0]["expression"] == ["Claim.total"]
    _statement, statement = revalidated(mapping.capability_statement(software_version="0.1.0"), CapabilityStatement)
    assert statement["fhirVersion"] == "4.0.1"
    types = {entry["type"] for entry in statement["rest"][0]["resource"]}
    assert set(mapping.READ_TYPES) | {"CoverageEligibilityRequest"} == types


@given(minor=st.integers(min_value=-(10**17), max_value=10**17), digits=st.integers(min_value=0, max_value=4))
def test_money_is_exact_with_the_currency_digits(minor: int, digits: int) -> None:
    resource = mapping.payment_reconciliation(
        batch_id="B",
        provider=PROVIDER,
        period=(dt.date(2018, 1, 1), dt.date(2018, 1, 2)),
        payer="p",
        lines=[(1, minor)],
        currency="CNY",
        minor_digits=digits,
        payment_date=dt.date(2018, 1, 3),
    )
    raw = mapping.to_json(resource).decode()
    written = raw.split('"paymentAmount":{"value":', 1)[1].split(",", 1)[0]
    # Written with exactly the currency's digits, and exactly the amount (no float on the way).
    assert (len(written.split(".")[1]) if "." in written else 0) == digits
    assert Decimal(written) * (10**digits) == minor
    if minor >= 0:
        assert to_minor(Decimal(written), digits, "x") == minor


# ---------------------------------------------------------------- parsing

GOOD_CLAIM = {
    "resourceType": "Claim",
    "identifier": [{"system": mapping.CLAIM_SYSTEM, "value": "C-9"}],
    "status": "active",
    "type": {"coding": [{"system": mapping.CLAIM_TYPE_SYSTEM, "code": "institutional"}]},
    "use": "claim",
    "patient": {"reference": "Patient/11"},
    "created": "2024-09-02T08:00:00Z",
    "provider": {"reference": "Organization/7"},
    "priority": {"coding": [{"code": "normal"}]},
    "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "card"}}],
    "billablePeriod": {"start": "2024-09-02", "end": "2024-09-05"},
    "diagnosis": [
        {"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": mapping.ICD10_SYSTEM, "code": "j18.9"}]}}
    ],
    "total": {"value": 1234.50, "currency": "CNY"},
}


def _body(data) -> bytes:
    return json.dumps(data, default=str).encode()


def test_a_claim_parses_to_the_service_fields() -> None:
    parsed = parse_claim(read_json(_body(GOOD_CLAIM)))
    assert (parsed.claim_id, parsed.patient.person_id, parsed.service_date, parsed.days) == (
        "C-9",
        11,
        dt.date(2024, 9, 2),
        3,
    )
    assert (parsed.care_type, parsed.diagnosis, parsed.referred, parsed.currency) == (
        "inpatient",
        "J18.9",
        False,
        "CNY",
    )
    assert parsed.total == Decimal("1234.5") and parsed.eligible == parsed.total
    assert to_minor(parsed.total, 2, "Claim.total") == 123450
    with_eligible = {
        **GOOD_CLAIM,
        "subType": {"coding": [{"system": mapping.CARE_TYPE_SYSTEM, "code": "emergency"}]},
        "extension": [{"url": mapping.ELIGIBLE_AMOUNT_EXTENSION, "valueMoney": {"value": 1000, "currency": "CNY"}}],
        "referral": {"display": "referral letter"},
        "patient": {"identifier": {"system": "https://equicover.org/fhir/sid/id/vneid", "value": "001"}},
    }
    parsed = parse_claim(read_json(_body(with_eligible)))
    assert parsed.care_type == "emergency" and parsed.eligible == Decimal(1000) and parsed.referred is True
    assert parsed.patient.person_id is None and parsed.patient.value == "001"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"resourceType": "Patient"}', 400),
        (b'{"no": "type"}', 400),
        (_body({**GOOD_CLAIM, "status": 5}), 400),
        (_body({key: value for key, value in GOOD_CLAIM.items() if key != "patient"}), 400),
        (_body({**GOOD_CLAIM, "total": {"value": "abc", "currency": "CNY"}}), 400),
        (_body({**GOOD_CLAIM, "identifier": []}), 422),
        (_body({**GOOD_CLAIM, "patient": {"reference": "Practitioner/1"}}), 422),
        (_body({**GOOD_CLAIM, "patient": {"display": "someone"}}), 422),
        (_body({**GOOD_CLAIM, "diagnosis": None}), 422),
        (_body({**GOOD_CLAIM, "billablePeriod": {"start": "2024-09-05", "end": "2024-09-02"}}), 422),
        (_body({**GOOD_CLAIM, "use": "preauthorization"}), 422),
        (
            _body(
                {
                    **GOOD_CLAIM,
                    "extension": [
                        {"url": mapping.ELIGIBLE_AMOUNT_EXTENSION, "valueMoney": {"value": 99999, "currency": "CNY"}}
                    ],
                }
            ),
            422,
        ),
        (
            _body(
                {
                    **GOOD_CLAIM,
                    "extension": [
                        {"url": mapping.ELIGIBLE_AMOUNT_EXTENSION, "valueMoney": {"value": 1, "currency": "USD"}}
                    ],
                }
            ),
            422,
        ),
    ],
)
def test_bad_claims_are_refused_with_400_or_422(body: bytes, status: int) -> None:
    with pytest.raises(FhirInputError) as refused:
        parse_claim(read_json(body))
    assert refused.value.status == status
    OperationOutcome.model_validate(json.loads(mapping.to_json(mapping.operation_outcome(refused.value.issues))))
    assert "someone" not in str(refused.value)


def test_amounts_with_too_many_decimals_or_negative_are_refused() -> None:
    for value, digits in ((Decimal("1.5"), 0), (Decimal("1.234"), 2), (Decimal("-1"), 2)):
        with pytest.raises(FhirInputError) as refused:
            to_minor(value, digits, "Claim.total")
        assert refused.value.status == 422


def test_eligibility_request_parses_patient_and_date() -> None:
    request = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["benefits"],
        "patient": {"reference": "Patient/11"},
        "created": "2024-09-01",
        "insurer": {"display": "x"},
        "servicedDate": "2024-09-02",
    }
    parsed = parse_eligibility_request(request)
    assert (parsed.patient.person_id, parsed.serviced_on, parsed.purpose) == (11, dt.date(2024, 9, 2), ("benefits",))
    parsed = parse_eligibility_request({**request, "servicedDate": None}, today=dt.date(2030, 1, 1))
    assert parsed.serviced_on == dt.date(2030, 1, 1)
    with pytest.raises(FhirInputError) as refused:
        parse_eligibility_request({key: value for key, value in request.items() if key != "patient"})
    assert refused.value.status == 400


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_claim_keys = st.sampled_from(sorted(GOOD_CLAIM) + ["extension", "referral", "subType", "item", "use"])


def _parsed_or_refused(parse: Any, body: bytes) -> tuple[Any, FhirInputError | None]:
    """What reading and parsing ``body`` gives: (the parsed input, None) or (None, the refusal).
    Any other exception propagates."""
    try:
        return parse(read_json(body)), None
    except FhirInputError as refused:
        return None, refused


@given(changes=st.dictionaries(_claim_keys, _json_values, max_size=3), dropped=st.sets(_claim_keys, max_size=2))
def test_any_mangled_claim_is_parsed_or_refused_with_400_or_422(changes, dropped) -> None:
    """Whatever a client sends in a Claim's elements, parsing ends in a ParsedClaim or a
    FhirInputError (an OperationOutcome 400/422), never another exception (a 500)."""
    data = {key: value for key, value in {**GOOD_CLAIM, **changes}.items() if key not in dropped}
    parsed, refused = _parsed_or_refused(parse_claim, mapping.encode_json(data))
    if refused is not None:
        assert refused.status in (400, 422) and refused.issues
        OperationOutcome.model_validate(json.loads(mapping.to_json(mapping.operation_outcome(refused.issues))))
    else:
        assert parsed.claim_id and parsed.days >= 0 and parsed.eligible <= parsed.total


@given(body=st.binary(max_size=64) | _json_values.map(lambda value: mapping.encode_json(value)))
def test_any_body_is_parsed_or_refused(body: bytes) -> None:
    _, refused = _parsed_or_refused(parse_eligibility_request, body)
    if refused is not None:
        assert refused.status in (400, 422)
