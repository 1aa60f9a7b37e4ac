"""Member cards and referral letters in FHIR, on both databases: Coverage.identifier is the card
number (system: the scheme's card URL) and Coverage is searched by it; a letter reads as a
ServiceRequest (by id, by patient, by number); a submitted Claim whose referral names a letter is
referred only when the letter holds, as a claim sent by REST, and reads back with the reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from equicover import fhir_mapping as mapping
from equicover.cards import service as cards
from equicover.cards.keys import KEYS_ENV
from equicover.referrals import service as referrals
from equicover.settlement.model import DEFAULT_REFERRAL_LETTER_VALID_DAYS
from tests import factories as make
from tests.api_helpers import login_as
from tests.fhir.helpers import DAY, claim_body, fhir, outcome, post

ISSUED = dt.date(2024, 9, 1)


@pytest.fixture
def letters(session_factory, world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """PP, a provincial hospital in D2 under contract; a letter from PA to PP for member two; a
    card for member one."""
    monkeypatch.setenv(KEYS_ENV, str(tmp_path / "card-keys"))
    with session_factory() as session:
        pp = make.provider(session, code="PP", level="province", location_code="D2")
        make.contract(session, provider_code="PP")
        letter = referrals.issue_letter(
            session=session, person_id=world.person_ids[1], from_provider_code="PA", to_provider_code="PP",
            diagnosis="I10", reason="blood pressure not controlled", issued_on=ISSUED,
        )  # fmt: skip
        card = cards.issue_card(
            session=session, scheme_code="VN-SHI", on=dt.date(2024, 7, 15), person_id=world.person_ids[0]
        )
        session.commit()
        return {"pp": pp.id, "letter": letter.id, "number": letter.number, "card": card.number}


def test_coverage_carries_the_card_number_and_is_found_by_it(client, world, letters) -> None:
    reader = login_as(client, "registrar", area="LC")
    system = mapping.card_system("VN-SHI")
    by_patient = fhir(
        client.get(f"/fhir/Coverage?beneficiary=Patient/{world.person_ids[0]}&date={DAY}", headers=reader), "Bundle"
    )
    coverage = by_patient["entry"][0]["resource"]
    assert coverage["identifier"][0]["system"] == system
    assert coverage["identifier"][0]["value"] == letters["card"]
    read = fhir(client.get(f"/fhir/Coverage/{coverage['id']}", headers=reader), "Coverage")
    assert read["identifier"] == coverage["identifier"]
    by_card = fhir(
        client.get(f"/fhir/Coverage?identifier={system}|{letters['card']}&date={DAY}", headers=reader), "Bundle"
    )
    assert [entry["resource"]["id"] for entry in by_card["entry"]] == [
        entry["resource"]["id"] for entry in by_patient["entry"]
    ]
    # Member two holds no card: his coverage has no identifier.
    two = fhir(
        client.get(f"/fhir/Coverage?beneficiary=Patient/{world.person_ids[1]}&date={DAY}", headers=reader), "Bundle"
    )
    assert "identifier" not in two["entry"][0]["resource"]
    for nobody in (f"{system}|000000000000", f"{mapping.card_system('OTHER')}|{letters['card']}"):
        empty = fhir(client.get(f"/fhir/Coverage?identifier={nobody}&date={DAY}", headers=reader), "Bundle")
        assert empty["total"] == 0
    outcome(client.get("/fhir/Coverage?date=2024-09-02", headers=reader), 400)


def test_a_letter_reads_as_a_service_request(client, world, letters) -> None:
    reader = login_as(client, "registrar", area="LC")
    letter = fhir(client.get(f"/fhir/ServiceRequest/{letters['letter']}", headers=reader), "ServiceRequest")
    assert letter["identifier"] == [{"system": mapping.REFERRAL_LETTER_SYSTEM, "value": letters["number"]}]
    assert (letter["status"], letter["intent"], letter["authoredOn"]) == ("active", "order", ISSUED.isoformat())
    assert letter["subject"]["reference"] == f"Patient/{world.person_ids[1]}"
    assert letter["requester"]["reference"] == f"Organization/{world.provider_a}"
    assert letter["performer"] == [{"reference": f"Organization/{letters['pp']}"}]
    assert letter["reasonCode"][0]["coding"][0]["code"] == "I10"
    # VN-SHI's policy names no validity of its own: the programme's default days, the issue day the first
    last_day = ISSUED + dt.timedelta(days=DEFAULT_REFERRAL_LETTER_VALID_DAYS - 1)
    assert letter["occurrencePeriod"] == {"start": ISSUED.isoformat(), "end": last_day.isoformat()}
    assert "blood pressure" not in str(letter)
    found = fhir(client.get(f"/fhir/ServiceRequest?patient=Patient/{world.person_ids[1]}", headers=reader), "Bundle")
    assert [entry["resource"]["id"] for entry in found["entry"]] == [str(letters["letter"])]
    by_number = fhir(
        client.get(
            f"/fhir/ServiceRequest?identifier={mapping.REFERRAL_LETTER_SYSTEM}|{letters['number']}", headers=reader
        ),
        "Bundle",
    )
    assert by_number["total"] == 1
    none = fhir(client.get(f"/fhir/ServiceRequest?patient=Patient/{world.person_ids[0]}", headers=reader), "Bundle")
    assert none["total"] == 0
    outcome(client.get("/fhir/ServiceRequest/999999", headers=reader), 404)
    outcome(client.get("/fhir/ServiceRequest", headers=reader), 400)


def test_a_claim_naming_the_letter_is_checked_like_rest(client, world, letters, row_counts) -> None:
    clerk = login_as(client, "clerk", provider="PP")
    reference = {"reference": f"ServiceRequest/{letters['letter']}"}
    start = row_counts("claims", "referral_letter_uses")
    body = claim_body(world.person_ids[1], letters["pp"], "PP-FHIR-1", referral=reference)
    claim = fhir(post(client, "/fhir/Claim", body, clerk), "Claim", 201)
    assert claim["referral"] == reference  # the Claim as sent
    by_number = {"identifier": {"system": mapping.REFERRAL_LETTER_SYSTEM, "value": letters["number"]}}
    body = claim_body(world.person_ids[1], letters["pp"], "PP-FHIR-2", referral=by_number)
    fhir(post(client, "/fhir/Claim", body, clerk), "Claim", 201)
    # Both claims are linked to the letter, as a REST claim naming it would be.
    assert row_counts("claims", "referral_letter_uses") == {table: count + 2 for table, count in start.items()}
    before = row_counts("claims", "referral_letter_uses")
    # Someone else's letter, an unknown letter, a reference to something that is not a letter.
    for person, referral, field in (
        (world.person_ids[0], reference, None),
        (world.person_ids[1], {"reference": "ServiceRequest/999999"}, "Claim.referral.reference"),
        (world.person_ids[1], {"reference": f"Patient/{world.person_ids[1]}"}, "Claim.referral"),
    ):
        body = claim_body(person, letters["pp"], "PP-BAD", referral=referral)
        refused = outcome(post(client, "/fhir/Claim", body, clerk), 422)
        if field is not None:
            assert refused["issue"][0]["expression"] == [field]
    assert row_counts("claims", "referral_letter_uses") == before


def test_a_claim_sent_by_rest_with_a_letter_reads_with_its_service_request(
    client, world, letters, session_factory
) -> None:
    from equicover.claims.service import submit_claim

    with session_factory() as session:
        stored, _ = submit_claim(
            session=session,
            claim=make.claim_in(
                claim_id="PP-REST", person_id=world.person_ids[1], provider_code="PP",
                service_date=ISSUED + dt.timedelta(days=2), diagnosis="I10", total=300_000,
                referral_letter=str(letters["number"]),
            ),
        )  # fmt: skip
        session.commit()
        claim_pk = stored.id
    reader = login_as(client, "registrar", area="LC")
    claim = fhir(client.get(f"/fhir/Claim/{claim_pk}", headers=reader), "Claim")
    assert claim["referral"] == {"reference": f"ServiceRequest/{letters['letter']}"}
    fhir(client.get(claim["referral"]["reference"].join(("/fhir/", "")), headers=reader), "ServiceRequest")


def test_the_capability_statement_serves_service_requests_and_coverage_by_card(client) -> None:
    statement = fhir(client.get("/fhir/metadata"), "CapabilityStatement")
    resources = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    assert {"read", "search-type"} <= {item["code"] for item in resources["ServiceRequest"]["interaction"]}
    assert {"patient", "identifier"} <= {param["name"] for param in resources["ServiceRequest"]["searchParam"]}
    assert "identifier" in {param["name"] for param in resources["Coverage"]["searchParam"]}


def test_the_new_resources_are_valid_r4_with_hl7_codes_that_resolve(client, world, letters) -> None:
    from tests.fhir.test_r4_conformance import HL7, codings, hl7_codes, validator

    reader = login_as(client, "registrar", area="LC")
    answers = [
        client.get(f"/fhir/ServiceRequest/{letters['letter']}", headers=reader).json(),
        client.get(f"/fhir/ServiceRequest?patient=Patient/{world.person_ids[1]}", headers=reader).json(),
        client.get(f"/fhir/Coverage?beneficiary=Patient/{world.person_ids[0]}&date={DAY}", headers=reader).json(),
        client.get("/fhir/metadata").json(),
    ]
    for answer in answers:
        errors = [error.message[:200] for error in validator(answer["resourceType"]).iter_errors(answer)]
        assert errors == [], answer["resourceType"]
        for system, code in codings(answer):
            if system.startswith(HL7):
                assert code in hl7_codes()[system], (system, code)
