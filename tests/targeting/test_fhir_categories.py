"""Categories in FHIR: a Patient's coverage-category extensions (code in the programme's system, period,
source, the round's list) and a round's list of a category as a Group, both validated by fhir.resources;
the extension's StructureDefinition and the CapabilityStatement tell them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from equicover import fhir_mapping as mapping
from equicover.auth.service import create_account
from equicover.registry.models import Location
from equicover.targeting import service
from tests.api_helpers import login_as
from tests.fhir.helpers import fhir, outcome
from tests.targeting.helpers import VN, vn_answers

APPROVED = dt.date(2024, 3, 4)


def _approved_round(session, world) -> int:
    """A round in commune C11 under the Viet Nam rules: household H1 is poor, approved on 4 March 2024."""
    ids = dict(session.execute(select(Location.code, Location.id)).all())
    field = create_account(session=session, username="field-d1", password="correct horse battery", role="registrar",
                           location_id=ids["D1"])  # fmt: skip
    chair = create_account(session=session, username="chair-c11", password="correct horse battery", role="registrar",
                           location_id=ids["C11"])  # fmt: skip
    round_ = service.open_round(
        session=session,
        rules_text=VN.read_text(encoding="utf-8"),
        area_code="C11",
        starts_on=dt.date(2024, 2, 1),
        ends_on=dt.date(2024, 2, 20),
        user=field,
    )
    service.capture_answers(
        session=session,
        round_id=round_.id,
        household_code="H1",
        answers=vn_answers(members=3, income_month="3000000", deprived=4),
        area_type="rural",
        user=field,
    )
    assert service.score_round(session=session, round_id=round_.id, user=field) == {"poor": 1}
    service.publish_notice(session=session, round_id=round_.id, on=dt.date(2024, 3, 1), user=field)
    service.approve_round(session=session, round_id=round_.id, on=APPROVED, user=chair)
    session.commit()
    return round_.id


def test_a_patient_carries_its_categories_and_a_round_lists_them_as_a_group(client, world, session) -> None:
    round_id = _approved_round(session, world)
    headers = login_as(client, "admin")
    one, two, three = world.person_ids

    patient = fhir(client.get(f"/fhir/Patient/{one}", headers=headers), "Patient")
    holdings = [ext for ext in patient["extension"] if ext["url"] == mapping.COVERAGE_CATEGORY_EXTENSION]
    parts = [{part["url"]: part for part in ext["extension"]} for ext in holdings]
    # the registry's earlier holding, ended the day before the approval, then the round's
    assert [p["code"]["valueCoding"]["system"] for p in parts] == [
        mapping.CATEGORY_SYSTEM,
        f"{mapping.CATEGORY_SYSTEM}-vn-poverty",
    ]
    assert {p["code"]["valueCoding"]["code"] for p in parts} == {"registered_poor"}
    assert parts[0]["period"]["valuePeriod"]["end"] == "2024-03-03"
    assert parts[1]["period"]["valuePeriod"] == {"start": "2024-03-04", "end": "2025-03-03"}
    assert parts[1]["source"]["valueString"] == f"targeting round {round_id} (vn-poverty)"
    group_ref = f"Group/targeting-{round_id}-registered-poor"
    assert parts[1]["list"]["valueReference"]["reference"] == group_ref
    assert "list" not in parts[0]

    # Member Two's other category, of no programme, is there too; Member Three holds only the round's
    second = fhir(client.get(f"/fhir/Patient/{two}", headers=headers), "Patient")
    assert sorted(p["extension"][0]["valueCoding"]["code"] for p in second["extension"]) == [
        "five_year_continuous",
        "registered_poor",
    ]

    group = fhir(client.get(f"/fhir/{group_ref}", headers=headers), "Group")
    assert group["identifier"] == [{"system": mapping.TARGETING_ROUND_SYSTEM, "value": f"{round_id}/registered_poor"}]
    assert group["code"]["coding"][0] == {
        "system": f"{mapping.CATEGORY_SYSTEM}-vn-poverty",
        "code": "registered_poor",
        "display": group["code"]["coding"][0]["display"],
    }
    assert group["quantity"] == 3 and group["actual"] is True
    assert [(m["entity"]["reference"], m["period"]) for m in group["member"]] == [
        (f"Patient/{pid}", {"start": "2024-03-04", "end": "2025-03-03"}) for pid in (one, two, three)
    ]

    # both code systems are served, with the codes used
    programme = fhir(client.get("/fhir/CodeSystem/category-vn-poverty", headers=headers), "CodeSystem")
    assert programme["url"] == f"{mapping.CATEGORY_SYSTEM}-vn-poverty"
    assert {concept["code"] for concept in programme["concept"]} == {"registered_poor", "near_poor"}
    registry = fhir(client.get("/fhir/CodeSystem/category", headers=headers), "CodeSystem")
    assert {"registered_poor", "five_year_continuous"} <= {concept["code"] for concept in registry["concept"]}

    # the round's near-poor list is empty; a category the rules do not give, or an unknown round, is not found
    near = fhir(client.get(f"/fhir/Group/targeting-{round_id}-near-poor", headers=headers), "Group")
    assert near["quantity"] == 0 and "member" not in near
    outcome(client.get(f"/fhir/Group/targeting-{round_id}-five-year-continuous", headers=headers), 404)
    outcome(client.get("/fhir/Group/targeting-999-registered-poor", headers=headers), 404)
    outcome(client.get("/fhir/Group/targeting-x-registered-poor", headers=headers), 404)
    # a registrar of another district sees neither the round's list nor its patients
    elsewhere = login_as(client, "registrar", area="D2")
    outcome(client.get(f"/fhir/{group_ref}", headers=elsewhere), 403)


def test_the_extension_is_defined_and_the_capability_statement_tells_it(client) -> None:
    definition = fhir(
        client.get("/fhir/StructureDefinition/coverage-category"),
        "StructureDefinition",
    )
    assert definition["url"] == mapping.COVERAGE_CATEGORY_EXTENSION
    assert definition["context"] == [{"type": "element", "expression": "Patient"}]
    slices = {e["sliceName"]: e for e in definition["differential"]["element"] if "sliceName" in e}
    assert {name: (e["min"], e["max"]) for name, e in slices.items()} == {
        "code": (1, "1"),
        "period": (1, "1"),
        "source": (0, "1"),
        "list": (0, "1"),
    }
    metadata = fhir(client.get("/fhir/metadata"), "CapabilityStatement")
    documented = {entry["type"]: entry.get("documentation", "") for entry in metadata["rest"][0]["resource"]}
    assert mapping.COVERAGE_CATEGORY_EXTENSION in documented["Patient"]
    assert "Group/targeting-<round>-<category>" in documented["Group"]


def test_mapping_validates_and_round_trips_group_ids() -> None:
    holding = mapping.CategoryHolding(
        category="near_poor",
        label="Near-poor",
        valid_from=dt.date(2024, 1, 1),
        valid_to=None,
        source="targeting round 7 (vn-poverty)",
        programme="vn-poverty",
        round_id=7,
    )

    class Person:
        id = 5
        national_id = None
        id_type = None
        full_name = "A"
        family_name = None
        given_name = None
        name_script = None
        sex = "female"
        birth_date = dt.date(1990, 1, 1)
        phone = None
        death_date = None
        location_id = 3

    patient = mapping.to_json_value(mapping.patient(Person(), [holding]))
    (extension,) = patient["extension"]
    assert {part["url"] for part in extension["extension"]} == {"code", "period", "source", "list"}
    assert extension["extension"][1]["valuePeriod"] == {"start": "2024-01-01"}  # open-ended
    assert mapping.parse_round_group_id(mapping.round_group_id(7, "near_poor")) == (7, "near-poor")
    assert mapping.parse_round_group_id("targeting--near-poor") is None
    assert mapping.parse_round_group_id("12") is None
