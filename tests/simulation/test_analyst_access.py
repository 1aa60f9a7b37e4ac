"""The analyst reads aggregates only: "what if", the dashboards and the aggregate reports; every page
and API that shows persons, households, claims or reviews refuses it, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from equicover.admin.service import create_user
from equicover.auth.roles import Role
from equicover.errors import ValidationFailed
from tests import factories as make
from tests.api_helpers import TEST_PASSWORD, form_token, login_as, make_client

PERSONAL_PAGES = (
    "/registry",
    "/registry/gaps",
    "/registry/households/H1",
    "/window",
    "/window/scan",
    "/window/persons/{person}",
    "/window/claims/A-OP0",
    "/window/claims/A-OP0/receipt.pdf",
    "/verification",
    "/verification/reviews/1",
    "/reports",
    "/admin/users",
    "/admin/audit",
    "/grievances",
    "/grievances/1",
    "/targeting",
    "/targeting/rounds/1",
    "/window/persons/{person}/referrals",
    "/window/referrals",
)
PERSONAL_API = (
    "/api/v1/persons",
    "/api/v1/persons/{person}",
    "/api/v1/persons/{person}/referrals",
    "/api/v1/households",
    "/api/v1/households/{household}",
    "/api/v1/eligibility/{person}",
    "/api/v1/enrolments",
    "/api/v1/contributions",
    "/api/v1/claims",
    "/api/v1/claims/A-OP0",
    "/api/v1/claim-records/{claim_pk}",
    "/api/v1/verification/queue",
    "/api/v1/anomaly/flags",
    "/api/v1/care/untreated?starts=2024-01-01&ends=2024-12-31",
    "/api/v1/grievances",
    "/api/v1/referrals/R-0001",
    "/api/v1/targeting/hospital-cases/1",
    "/api/v1/payments/batches",
    "/api/v1/funds/flows",
    "/api/v1/audit",
    "/api/v1/users",
    "/fhir/Patient",
    "/fhir/Patient/{person}",
    "/fhir/Coverage",
)


@pytest.fixture
def world(session: Session) -> make.ClaimsWorld:
    world = make.vn_claims_world(session)
    session.commit()
    return world


def _fill(path: str, world: make.ClaimsWorld) -> str:
    return path.format(person=world.person_ids[0], household=world.household_id, claim_pk=world.claim_pks["A-OP0"])


def test_the_analyst_opens_what_if_and_the_dashboards(session_factory: sessionmaker[Session], world) -> None:
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, Role.ANALYST, cookie=True)
    assert client.get("/").headers["location"] == "/simulation"
    page = client.get("/simulation")
    assert page.status_code == 200
    nav = page.text[page.text.index("<nav") : page.text.index("</nav>")]
    assert 'href="/simulation"' in nav and 'href="/dashboard"' in nav
    assert 'href="/registry"' not in nav and 'href="/window"' not in nav
    compared = client.post(
        "/simulation", data={**form_token(client), "year": "2024", "policy_a": str(world.policy_version_id)}
    )
    assert compared.status_code == 200 and 'data-testid="simulation-payers"' in compared.text
    assert client.get("/dashboard?year=2024").status_code == 200
    assert client.get("/dashboard/data.json?year=2024").status_code == 200


def test_every_personal_page_refuses_the_analyst_in_its_language(session_factory: sessionmaker[Session], world) -> None:
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, Role.ANALYST, language="fr", cookie=True)
    for path in PERSONAL_PAGES:
        page = client.get(_fill(path, world))
        assert page.status_code == 403, path
        assert "Vous ne pouvez pas ouvrir cette page" in page.text, path
    posted = client.post(
        f"/registry/persons/{world.person_ids[2]}/enrol", data={**form_token(client), "period_id": str(world.period_id)}
    )
    assert posted.status_code == 403


def test_every_personal_api_refuses_the_analyst(session_factory: sessionmaker[Session], world) -> None:
    client = make_client(session_factory=session_factory)
    headers = login_as(client, Role.ANALYST)
    for path in PERSONAL_API:
        answer = client.get(_fill(path, world), headers=headers)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "A-OP0" not in answer.text
    submitted = client.post("/api/v1/claims", headers=headers, json={})
    assert submitted.status_code == 403
    # A fund manager does read them: the refusal is the analyst's, not the route's.
    manager = login_as(client, Role.FUND_MANAGER)
    assert client.get("/api/v1/persons", headers=manager).status_code == 200
    assert client.get("/api/v1/claims/A-OP0", headers=manager).status_code == 200


def test_the_analyst_reads_the_aggregate_reports(session_factory: sessionmaker[Session], world) -> None:
    client = make_client(session_factory=session_factory)
    headers = login_as(client, Role.ANALYST)
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json()["role"] == "analyst"
    report = client.get("/api/v1/reports/settlement", headers=headers)
    assert report.status_code == 200
    # The whole country's totals, the same as the fund manager's.
    manager = login_as(client, Role.FUND_MANAGER)
    assert report.json() == client.get("/api/v1/reports/settlement", headers=manager).json()
    assert report.json()["claims"] == 9
    indicators = client.get(
        "/api/v1/reports/indicators", params={"starts": "2024-01-01", "ends": "2024-12-31"}, headers=headers
    )
    assert indicators.status_code == 200 and indicators.json()
    assert client.get("/api/v1/locations", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_an_analyst_has_no_area_and_no_facility(session: Session, world) -> None:
    with pytest.raises(ValidationFailed) as refused:
        create_user(
            session=session, username="a1", password=TEST_PASSWORD, role=Role.ANALYST, area_code="D1", actor="test"
        )
    assert refused.value.field == "area"
    with pytest.raises(ValidationFailed) as refused:
        create_user(
            session=session, username="a2", password=TEST_PASSWORD, role=Role.ANALYST, provider_code="PA", actor="test"
        )
    assert refused.value.field == "provider"


def test_the_administrator_creates_an_analyst_account(session_factory: sessionmaker[Session], world) -> None:
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, Role.ADMIN, cookie=True)
    form = client.get("/admin/users")
    assert '<option value="analyst"' in form.text
    created = client.post(
        "/admin/users", data={**form_token(client), "username": "planner-1", "role": "analyst", "language": "en"}
    )
    assert created.status_code == 200 and "planner-1" in created.text
    refused = client.post(
        "/admin/users",
        data={**form_token(client), "username": "planner-2", "role": "analyst", "area": "D1", "language": "en"},
    )
    assert refused.status_code == 422
    assert "An analyst reads national figures" in refused.text
