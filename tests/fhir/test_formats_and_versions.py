"""Formats and versions, on both databases: a format other than JSON asked for is 406 and a body
in one is 415 (never JSON answered anyway); every read carries ``meta.versionId``,
``meta.lastUpdated`` and an ``ETag`` that changes when the resource does, and ``If-None-Match``
answers 304."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.api_helpers import login_as
from tests.fhir.helpers import claim_body, fhir, outcome, post


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"_format": "xml"}, {}),
        ({"_format": "application/fhir+xml"}, {}),
        ({"_format": "ttl"}, {}),
        ({}, {"Accept": "application/fhir+xml"}),
        ({}, {"Accept": "application/xml, text/xml;q=0.9"}),
        ({}, {"Accept": "application/fhir+json;q=0, application/fhir+xml"}),
    ],
)
def test_formats_not_served_are_refused_406(client, world, params, headers) -> None:
    admin = login_as(client, "admin")
    for path in ("/fhir/metadata", f"/fhir/Patient/{world.person_ids[0]}"):
        refused = outcome(client.get(path, params=params, headers={**admin, **headers}), 406)
        assert refused["issue"][0]["code"] == "not-supported"


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"_format": "json"}, {}),
        ({"_format": "application/fhir+json"}, {}),
        ({}, {"Accept": "application/fhir+json"}),
        ({}, {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}),
    ],
)
def test_json_asked_for_in_any_spelling_is_served(client, world, params, headers) -> None:
    fhir(client.get("/fhir/metadata", params=params, headers=headers), "CapabilityStatement")


def test_an_xml_body_is_refused_415_and_nothing_is_stored(client, world, row_counts) -> None:
    clerk = login_as(client, "clerk", provider="PA")
    before = row_counts("claims", "claim_documents")
    xml = b'<Claim xmlns="http://hl7.org/fhir"><status value="active"/></Claim>'
    for content_type in ("application/fhir+xml", "application/xml", "text/xml"):
        for path in ("/fhir/Claim", "/fhir/Claim/$submit", "/fhir/CoverageEligibilityRequest"):
            response = client.post(path, content=xml, headers={**clerk, "Content-Type": content_type})
            assert outcome(response, 415)["issue"][0]["code"] == "not-supported"
    assert row_counts("claims", "claim_documents") == before


def test_reads_carry_a_version_and_when_they_last_changed(client, world, session) -> None:
    from equicover.claims.models import Claim as ClaimRow

    clerk = login_as(client, "clerk", provider="PA")
    member = world.person_ids[1]
    first = fhir(
        post(client, "/fhir/Claim/$submit", claim_body(member, world.provider_a, "VER-1"), clerk), "ClaimResponse", 201
    )
    read = client.get(f"/fhir/ExplanationOfBenefit/{first['id']}", headers=clerk)
    eob = fhir(read, "ExplanationOfBenefit")
    version, changed = eob["meta"]["versionId"], dt.datetime.fromisoformat(eob["meta"]["lastUpdated"])
    assert read.headers["etag"] == f'W/"{version}"' and read.headers["last-modified"].endswith("GMT")
    stored = session.get(ClaimRow, int(first["id"]))
    submitted = stored.submitted_at if stored.submitted_at.tzinfo else stored.submitted_at.replace(tzinfo=dt.UTC)
    assert changed == submitted

    unchanged = client.get(
        f"/fhir/ExplanationOfBenefit/{first['id']}", headers={**clerk, "If-None-Match": read.headers["etag"]}
    )
    assert (
        unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == read.headers["etag"]
    )

    # Another bill of the member moves the co-payment cap's balance on the first one's EOB.
    fhir(
        post(client, "/fhir/Claim/$submit", claim_body(member, world.provider_a, "VER-2"), clerk), "ClaimResponse", 201
    )
    moved = client.get(
        f"/fhir/ExplanationOfBenefit/{first['id']}", headers={**clerk, "If-None-Match": read.headers["etag"]}
    )
    again = fhir(moved, "ExplanationOfBenefit")
    assert moved.headers["etag"] != read.headers["etag"] and again["meta"]["versionId"] != version
    assert dt.datetime.fromisoformat(again["meta"]["lastUpdated"]) >= changed

    admin = login_as(client, "admin")
    for path in (
        f"/fhir/Patient/{member}",
        f"/fhir/Claim/{first['id']}",
        f"/fhir/ClaimResponse/{first['id']}",
        f"/fhir/Coverage/{member}.{world.policy_version_id}.shi",
        f"/fhir/Organization/{world.provider_a}",
    ):
        response = client.get(path, headers=admin)
        assert response.status_code == 200, path
        meta = response.json()["meta"]
        assert response.headers["etag"] == f'W/"{meta["versionId"]}"' and "lastUpdated" in meta, path
