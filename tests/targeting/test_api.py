"""The targeting API: area-scoped, role-checked, bad input refused with the field and the reason."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.auth.service import create_account, issue_token
from equicover.registry.models import Location
from tests import factories as make
from tests.api_helpers import TEST_PASSWORD, login_as, make_client
from tests.targeting.helpers import KH, KH_POOR, VN, vn_answers


def _world(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        make.locations(session)
        make.household(session, code="HA", location_code="C11")
        make.household(session, code="HB", location_code="C11")
        make.household(session, code="HX", location_code="C12")
        make.provider(session, code="RH", level="district", location_code="D1")
        session.commit()


def _commune_account(client: TestClient, session_factory: sessionmaker[Session], code: str) -> dict[str, str]:
    """A commune's account: the administration's accounts stop at districts, so it is made through auth."""
    with session_factory() as session:
        location_id = session.scalar(select(Location.id).where(Location.code == code))
        user = create_account(
            session=session,
            username=f"commune-{code}",
            password=TEST_PASSWORD,
            role="registrar",
            location_id=location_id,
        )
        token = issue_token(session=session, user=user)
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _row(code: str, deprived: int) -> dict[str, object]:
    return {
        "household": code,
        "village": "V1",
        "area_type": "rural",
        "answers": vn_answers(members=1, income_month="1000000", deprived=deprived),
    }


def test_a_round_through_the_api(session_factory: sessionmaker[Session]) -> None:
    _world(session_factory)
    client = make_client(session_factory=session_factory)
    district = login_as(client, "registrar", area="D1")
    commune = _commune_account(client, session_factory, "C11")
    elsewhere = login_as(client, "registrar", area="D2")
    body = {
        "rules_text": VN.read_text(encoding="utf-8"),
        "area_code": "C11",
        "starts_on": "2024-02-01",
        "ends_on": "2024-02-20",
    }
    opened = client.post("/api/v1/targeting/rounds", json=body, headers=district)
    assert opened.status_code == 201, opened.text
    round_id = opened.json()["id"]
    base = f"/api/v1/targeting/rounds/{round_id}"
    assert client.get(base, headers=elsewhere).status_code == 403
    assert client.get("/api/v1/targeting/rounds/99999", headers=district).status_code == 404

    bad_answer = _row("HB", 0)
    bad_answer["answers"] = {**bad_answer["answers"], "toilet": "sometimes"}  # type: ignore[dict-item]
    imported = client.post(
        f"{base}/answers", json={"rows": [_row("HA", 4), bad_answer, _row("HX", 4)]}, headers=district
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["imported"] == 1
    assert [(r["line"], r["household"], r["field"], r["reason"]) for r in imported.json()["rejections"]] == [
        (3, "HB", "toilet", "answer outside the options (yes, no)"),
        (4, "HX", "household", "not in the area of the round"),
    ]
    unknown_field = client.post(
        f"{base}/answers", json={"rows": [{**_row("HB", 0), "colour": "red"}]}, headers=district
    )
    assert unknown_field.status_code == 422
    unknown_item = client.post(
        f"{base}/answers", json={"rows": [{**_row("HB", 0), "answers": {"colour": "red"}}]}, headers=district
    )
    assert unknown_item.status_code == 422 and unknown_item.json()["field"] == "colour"
    assert client.post(f"{base}/scoring", headers=district).json() == {"poor": 1}
    listed = client.get(f"{base}/list", headers=district).json()
    assert listed == [
        {
            "village": "V1",
            "households": [
                {
                    "entry_id": listed[0]["households"][0]["entry_id"],
                    "household_code": "HA",
                    "proposed": "poor",
                    "final": "poor",
                    "reason": "poor: income per person 1000000 at or below standard 1500000, 4 deprivation(s), "
                    "at least 3",
                }
            ],
        }
    ]
    no_reason = client.post(
        f"{base}/decisions",
        headers=district,
        json={"household_code": "HA", "kind": "exclude", "reason": "", "on": "2024-02-25"},
    )
    assert no_reason.status_code == 422
    assert (
        client.post(f"{base}/notice", json={"on": "2024-03-01"}, headers=district).json()["notice_to"] == "2024-03-03"
    )
    assert "HA  Poor household" in client.get(f"{base}/notice", headers=district).text
    late = client.post(
        f"{base}/objections",
        headers=district,
        json={"household_code": "HA", "asked_category": "none", "grounds": "owns land", "on": "2024-03-09"},
    )
    assert late.status_code == 422 and late.json()["field"] == "on"
    early = client.post(f"{base}/approval", json={"on": "2024-03-02"}, headers=commune)
    assert early.status_code == 422
    wrong_level = client.post(f"{base}/approval", json={"on": "2024-03-04"}, headers=district)
    assert wrong_level.status_code == 403
    approved = client.post(f"{base}/approval", json={"on": "2024-03-04"}, headers=commune)
    assert approved.status_code == 200, approved.text
    assert approved.json()["categories_written"] == 1
    assert client.get(base, headers=district).json()["status"] == "approved"


def test_hospital_cases_through_the_api(session_factory: sessionmaker[Session]) -> None:
    _world(session_factory)
    client = make_client(session_factory=session_factory)
    window = login_as(client, "clerk", provider="RH")
    registrar = login_as(client, "registrar", area="D1")
    body = {
        "rules_text": KH.read_text(encoding="utf-8"),
        "household_code": "HA",
        "answers": KH_POOR,
        "admitted_on": str(dt.date(2024, 5, 10)),
    }
    assert client.post("/api/v1/targeting/hospital-cases", json=body, headers=registrar).status_code == 403
    bad = client.post(
        "/api/v1/targeting/hospital-cases", headers=window, json={**body, "answers": {**KH_POOR, "roof": "gold"}}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "roof"
    created = client.post("/api/v1/targeting/hospital-cases", json=body, headers=window)
    assert created.status_code == 201, created.text
    case = created.json()
    assert (case["status"], case["category"], case["valid_to"]) == ("granted", "level_2", "2024-06-08")
    assert client.get(f"/api/v1/targeting/hospital-cases/{case['id']}", headers=window).status_code == 200
    withdrawn = client.post(
        f"/api/v1/targeting/hospital-cases/{case['id']}/withdrawal", json={"on": "2024-05-12"}, headers=registrar
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
