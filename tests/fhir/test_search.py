"""FHIR searches as a client library uses them, on both databases: paging links that lead through
every match, ``_count`` capped rather than refused, ``_summary=count``, parameters not supported
refused under ``Prefer: handling=strict`` and left out of ``self`` otherwise, OR lists, and the
standard ``_id``, ``Coverage?patient`` and absolute references."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from equicover import fhir_mapping as mapping
from tests.api_helpers import login_as
from tests.fhir.helpers import DAY, claim_body, fhir, outcome, post

OUTPATIENT = {
    "type": {"coding": [{"system": mapping.CLAIM_TYPE_SYSTEM, "code": "professional"}]},
    "subType": {"coding": [{"system": mapping.CARE_TYPE_SYSTEM, "code": "outpatient"}]},
    "billablePeriod": {"start": DAY},
}


def submit_outpatient_claims(client, world, count: int) -> list[str]:
    """``count`` out-patient bills of the registered-poor member at PA; their stored ids."""
    clerk = login_as(client, "clerk", provider="PA")
    ids = []
    for number in range(count):
        body = claim_body(world.person_ids[0], world.provider_a, f"PAGE-{number}", total=100_000, **OUTPATIENT)
        ids.append(fhir(post(client, "/fhir/Claim/$submit", body, clerk), "ClaimResponse", 201)["id"])
    return ids


def links(bundle: dict) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle.get("link", [])}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_paging_links_lead_through_every_match(client, world) -> None:
    stored = submit_outpatient_claims(client, world, 7)
    headers = login_as(client, "admin")
    first = fhir(
        client.get(
            "/fhir/ExplanationOfBenefit",
            params={"patient": f"Patient/{world.person_ids[0]}", "_count": "3"},
            headers=headers,
        ),
        "Bundle",
    )
    assert first["total"] == 7 and len(first["entry"]) == 3
    relations = links(first)
    assert set(relations) == {"self", "first", "next", "last"}  # no previous on the first page
    assert all(url.startswith("http://testserver/fhir/ExplanationOfBenefit?") for url in relations.values())
    assert query_of(relations["last"])["_offset"] == ["6"] and query_of(relations["next"])["_offset"] == ["3"]

    seen, page, pages = [], first, 0
    while True:
        pages += 1
        seen += [entry["resource"]["id"] for entry in page["entry"]]
        if "next" not in links(page):
            break
        page = fhir(client.get(links(page)["next"], headers=headers), "Bundle")
        assert "previous" in links(page)
    assert pages == 3 and sorted(seen) == sorted(stored)

    second = fhir(client.get(links(first)["next"], headers=headers), "Bundle")
    assert query_of(links(second)["previous"])["_offset"] == ["0"]


def test_count_above_the_maximum_is_capped_and_summary_count_gives_the_total(client, world) -> None:
    submit_outpatient_claims(client, world, 2)
    headers = login_as(client, "admin")
    patient = f"Patient/{world.person_ids[0]}"
    capped = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": patient, "_count": "501"}, headers=headers),
        "Bundle",
    )
    assert capped["total"] == 2 and len(capped["entry"]) == 2
    assert query_of(links(capped)["self"])["_count"] == ["500"]
    huge = client.get("/fhir/Patient", params={"_id": "1", "_count": "99999999999"}, headers=headers)
    assert query_of(links(fhir(huge, "Bundle"))["self"])["_count"] == ["500"]

    counted = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": patient, "_summary": "count"}, headers=headers),
        "Bundle",
    )
    assert counted["total"] == 2 and "entry" not in counted
    assert query_of(links(counted)["self"])["_summary"] == ["count"]
    outcome(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": patient, "_count": "many"}, headers=headers), 400
    )


@pytest.mark.parametrize(
    "unsupported", [{"_sort": "-priority"}, {"_include": "ExplanationOfBenefit:claim"}, {"colour": "blue"}]
)
def test_unsupported_parameters_are_refused_when_strict_and_left_out_of_self_otherwise(
    client, world, unsupported
) -> None:
    headers = login_as(client, "admin")
    params = {"patient": f"Patient/{world.person_ids[0]}", **unsupported}
    (name,) = unsupported
    lenient = fhir(client.get("/fhir/ExplanationOfBenefit", params=params, headers=headers), "Bundle")
    applied = query_of(links(lenient)["self"])
    assert name not in applied and applied["patient"] == [f"Patient/{world.person_ids[0]}"]

    strict = outcome(
        client.get("/fhir/ExplanationOfBenefit", params=params, headers={**headers, "Prefer": "handling=strict"}),
        400,
    )
    assert strict["issue"][0]["code"] == "not-supported" and name in strict["issue"][0]["diagnostics"]
    fhir(
        client.get(
            "/fhir/ExplanationOfBenefit",
            params={"patient": f"Patient/{world.person_ids[0]}"},
            headers={**headers, "Prefer": "handling=strict"},
        ),
        "Bundle",
    )


def test_or_lists_id_patient_and_absolute_references(client, world) -> None:
    headers = login_as(client, "admin")
    poor, two = world.person_ids[0], world.person_ids[1]
    vneid = f"{mapping.NATIONAL_ID_SYSTEM_PREFIX}vneid|001170000042"
    either = fhir(
        client.get("/fhir/Patient", params={"identifier": f"{mapping.PERSON_SYSTEM}|{poor},{vneid}"}, headers=headers),
        "Bundle",
    )
    assert either["total"] == 2
    by_ids = fhir(client.get("/fhir/Patient", params={"_id": f"{poor},{two}"}, headers=headers), "Bundle")
    assert sorted(entry["resource"]["id"] for entry in by_ids["entry"]) == sorted([str(poor), str(two)])
    both = fhir(
        client.get("/fhir/Patient", params=[("_id", f"{poor},{two}"), ("_id", str(two))], headers=headers), "Bundle"
    )
    assert [entry["resource"]["id"] for entry in both["entry"]] == [str(two)]  # repeated parameters: AND

    by_beneficiary = fhir(
        client.get("/fhir/Coverage", params={"beneficiary": f"Patient/{poor}", "date": DAY}, headers=headers), "Bundle"
    )
    by_patient = fhir(
        client.get("/fhir/Coverage", params={"patient": f"Patient/{poor}", "date": DAY}, headers=headers), "Bundle"
    )
    absolute = fhir(
        client.get(
            "/fhir/Coverage", params={"patient": f"http://testserver/fhir/Patient/{poor}", "date": DAY}, headers=headers
        ),
        "Bundle",
    )
    ids = [entry["resource"]["id"] for entry in by_beneficiary["entry"]]
    assert len(ids) == 2
    assert [entry["resource"]["id"] for entry in by_patient["entry"]] == ids
    assert [entry["resource"]["id"] for entry in absolute["entry"]] == ids
    outcome(
        client.get(
            "/fhir/Coverage", params={"patient": f"http://elsewhere.example/fhir/Patient/{poor}"}, headers=headers
        ),
        400,
    )
    eob = fhir(
        client.get(
            "/fhir/ExplanationOfBenefit", params={"patient": f"http://testserver/fhir/Patient/{poor}"}, headers=headers
        ),
        "Bundle",
    )
    assert eob["total"] == 0


def test_coverage_of_a_past_year_is_found_by_its_date(client, world) -> None:
    headers = login_as(client, "admin")
    poor = f"Patient/{world.person_ids[0]}"
    assert fhir(client.get("/fhir/Coverage", params={"patient": poor}, headers=headers), "Bundle")["total"] == 0
    dated = fhir(client.get("/fhir/Coverage", params={"patient": poor, "date": f"eq{DAY}"}, headers=headers), "Bundle")
    assert dated["total"] == 2
    outcome(client.get("/fhir/Coverage", params={"patient": poor, "date": f"ge{DAY}"}, headers=headers), 400)


def test_a_search_by_post_takes_its_parameters_as_a_form(client, world) -> None:
    submit_outpatient_claims(client, world, 3)
    headers = login_as(client, "admin")
    patient = f"Patient/{world.person_ids[0]}"
    posted = fhir(
        client.post("/fhir/ExplanationOfBenefit/_search", data={"patient": patient, "_count": "2"}, headers=headers),
        "Bundle",
    )
    fetched = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": patient, "_count": "2"}, headers=headers), "Bundle"
    )
    assert posted["total"] == 3 and posted["entry"] == fetched["entry"] and links(posted) == links(fetched)
    found = fhir(
        client.post("/fhir/Patient/_search", data={"_id": str(world.person_ids[0])}, headers=headers), "Bundle"
    )
    assert found["total"] == 1
    coverage = fhir(
        client.post("/fhir/Coverage/_search", data={"patient": patient, "date": DAY}, headers=headers), "Bundle"
    )
    assert coverage["total"] == 2
    refused = client.post(
        "/fhir/Patient/_search", content=b'{"_id": "1"}', headers={**headers, "Content-Type": "application/json"}
    )
    assert outcome(refused, 415)["issue"][0]["code"] == "not-supported"


def test_sort_and_elements(client, world, session) -> None:
    stored = submit_outpatient_claims(client, world, 3)
    headers = login_as(client, "admin")
    patient = f"Patient/{world.person_ids[0]}"
    newest_first = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": patient, "_sort": "-_id"}, headers=headers),
        "Bundle",
    )
    assert [entry["resource"]["id"] for entry in newest_first["entry"]] == list(reversed(stored))
    assert query_of(links(newest_first)["self"])["_sort"] == ["-_id"]
    by_creation = fhir(
        client.get("/fhir/ExplanationOfBenefit", params={"patient": patient, "_sort": "created,_id"}, headers=headers),
        "Bundle",
    )
    assert [entry["resource"]["id"] for entry in by_creation["entry"]] == stored

    slim = fhir(
        client.get(
            "/fhir/ExplanationOfBenefit",
            params={"patient": patient, "_elements": "total,payment"},
            headers=headers,
        ),
        "Bundle",
    )
    resource = slim["entry"][0]["resource"]
    assert "total" in resource and "payment" in resource and "item" not in resource and "diagnosis" not in resource
    assert {"status", "type", "use", "patient", "created", "insurer", "provider", "outcome", "insurance"} <= set(
        resource
    )  # R4's mandatory elements stay
    assert resource["meta"]["tag"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "SUBSETTED",
            "display": "subsetted",
        }
    ]
    outcome(
        client.get(
            "/fhir/ExplanationOfBenefit",
            params={"patient": patient, "_sort": "priority"},
            headers={**headers, "Prefer": "handling=strict"},
        ),
        400,
    )
