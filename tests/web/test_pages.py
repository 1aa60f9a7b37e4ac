"""The web pages through the application (TestClient), on SQLite and PostgreSQL: sign-in, roles
and areas, each role's main form, languages, and that no page asks another host for anything."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.auth.deps import SESSION_COOKIE
from equicover.auth.models import User
from equicover.claims.models import Claim
from equicover.enrolment.models import Enrolment
from tests.api_helpers import TEST_PASSWORD, form_token, login_as

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def _sign_in(client, role: str, **options: str) -> None:
    login_as(client, role, cookie=True, **options)


def test_anonymous_visitor_is_sent_to_the_login_page(world_client) -> None:
    _, client = world_client
    response = client.get("/window?q=H1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/window%3Fq%3DH1"
    assert client.get("/login").status_code == 200


def test_login_sets_the_session_cookie_and_lands_on_the_role_page(world_client, session: Session) -> None:
    _, client = world_client
    login_as(client, "registrar", area="D1", username="reg-login")
    client.cookies.clear()
    wrong = client.post("/login", data={**form_token(client), "username": "reg-login", "password": "nope"})
    assert wrong.status_code == 401
    assert "Wrong username or password." in wrong.text
    response = client.post("/login", data={**form_token(client), "username": "reg-login", "password": TEST_PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == "/registry"
    assert SESSION_COOKIE in response.cookies
    # A next= pointing at another site is ignored.
    client.cookies.clear()
    response = client.post(
        "/login",
        data={**form_token(client), "username": "reg-login", "password": TEST_PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/registry"
    assert SESSION_COOKIE in client.cookies
    assert client.post("/logout", data=form_token(client)).status_code == 303
    assert client.get("/registry").status_code == 303  # the token was revoked


def test_a_role_cannot_open_another_roles_page(world_client) -> None:
    _, client = world_client
    _sign_in(client, "clerk", provider="PA")
    for path in ("/registry", "/verification", "/dashboard"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You cannot open this page" in response.text
    assert client.get("/window").status_code == 200


def test_registrar_sees_only_its_area(world_client) -> None:
    world, client = world_client
    _sign_in(client, "registrar", area="D2")
    listing = client.get("/registry")
    assert "H2" in listing.text and "H1" not in listing.text
    assert client.get("/registry/households/H1").status_code == 403
    assert client.get("/registry/households/NOPE").status_code == 404


def test_clerk_finds_a_patient_and_settles_a_bill(world_client, session: Session) -> None:
    world, client = world_client
    _sign_in(client, "clerk", provider="PA")
    poor = world.person_ids[0]
    found = client.get("/window", params={"q": "Member"})
    assert found.status_code == 200
    assert f"/window/persons/{poor}" in found.text
    person = client.get(f"/window/persons/{poor}", params={"on": "2024-09-01"})
    assert person.status_code == 200
    assert 'data-testid="caps"' in person.text
    claim_id = re.search(r'name="claim_id" value="([^"]+)"', person.text).group(1)
    form = {
        "claim_id": claim_id,
        "service_date": "2024-09-01",
        "care_type": "inpatient",
        "diagnosis": "j18",
        "total": "2000000",
        "days": "3",
    }
    response = client.post(f"/window/persons/{poor}/bill", data={**form, **form_token(client)})
    assert response.status_code == 303, response.text[:500]
    assert response.headers["location"] == f"/window/claims/{claim_id}"
    # The same form sent twice settles the bill once.
    assert client.post(f"/window/persons/{poor}/bill", data={**form, **form_token(client)}).status_code == 303
    stored = session.scalars(select(Claim).where(Claim.person_id == poor)).all()
    assert len(stored) == 1 and stored[0].submitted_by.startswith("web:")
    page = client.get(f"/window/claims/{claim_id}")
    assert page.status_code == 200
    patient_share = re.search(r'data-testid="patient-amount">([^<]+)<', page.text).group(1)
    assert patient_share == f"{stored[0].member_oop:,}"
    receipt = client.get(f"/window/claims/{claim_id}/receipt")
    assert receipt.status_code == 200 and "Member One" in receipt.text
    pdf = client.get(f"/window/claims/{claim_id}/receipt.pdf")
    assert (
        pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    )


def test_clerk_sees_why_a_bill_is_refused(world_client, session: Session) -> None:
    world, client = world_client
    _sign_in(client, "clerk", provider="PA")
    poor = world.person_ids[0]
    form = {
        "claim_id": "BAD-1",
        "service_date": "2024-09-01",
        "care_type": "inpatient",
        "diagnosis": "J18",
        "total": "12.5",
    }
    response = client.post(f"/window/persons/{poor}/bill", data={**form, **form_token(client)})
    assert response.status_code == 422
    assert "The total has more than 0 decimals for the currency" in response.text  # VND has none
    form.update(total="1000", eligible="2000")
    response = client.post(f"/window/persons/{poor}/bill", data={**form, **form_token(client)})
    assert response.status_code == 422
    assert "The in-scope amount must not be more than the total" in response.text
    assert session.scalars(select(Claim)).all() == []


def test_registrar_enrols_a_member_and_the_change_is_audited(world_client, session: Session) -> None:
    world, client = world_client
    _sign_in(client, "registrar", area="D1", username="reg-enrol")
    unenrolled = world.person_ids[2]
    gaps = client.get("/registry/gaps", params={"on": "2024-09-01"})
    assert gaps.status_code == 200
    household = client.get("/registry/households/H1", params={"on": "2024-09-01"})
    assert f'data-testid="enrol-form-{unenrolled}"' in household.text
    response = client.post(
        f"/registry/persons/{unenrolled}/enrol",
        data={**form_token(client), "period_id": str(world.period_id), "starts": "2024-09-01"},
    )
    assert response.status_code == 303
    enrolments = session.scalars(select(Enrolment).where(Enrolment.person_id == unenrolled)).all()
    assert [(e.starts.isoformat(), e.ends.isoformat(), e.status) for e in enrolments] == [
        ("2024-09-01", "2025-06-30", "active")
    ]
    audit = session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "enrolments", ChangeLog.entity_id == enrolments[0].id)
    ).one()
    assert audit.actor == "web:reg-enrol"
    after = client.get(response.headers["location"])
    assert "Member enrolled." in after.text and f'data-testid="enrol-form-{unenrolled}"' not in after.text
    # Enrolling again overlaps: refused with the reason, nothing written.
    again = client.post(
        f"/registry/persons/{unenrolled}/enrol",
        data={**form_token(client), "period_id": str(world.period_id), "starts": "2024-10-01"},
    )
    assert again.status_code == 409
    assert len(session.scalars(select(Enrolment).where(Enrolment.person_id == unenrolled)).all()) == 1


def test_language_picker_remembers_the_choice_for_the_user(world_client, session: Session) -> None:
    _, client = world_client
    _sign_in(client, "registrar", area="D1", username="reg-lang")
    response = client.post("/language", data={**form_token(client), "language": "ar", "next": "/registry"})
    assert response.status_code == 303 and response.headers["location"] == "/registry"
    page = client.get("/registry")
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "السجل" in page.text
    session.expire_all()
    assert session.scalars(select(User.language).where(User.username == "reg-lang")).one() == "ar"
    # Without the picker's cookie the user's own default applies.
    client.cookies.delete("equicover_lang")
    assert '<html lang="ar" dir="rtl">' in client.get("/registry").text


def test_pages_render_in_every_language_without_external_requests(world_client) -> None:
    world, client = world_client
    _sign_in(client, "admin")
    for language in ("en", "fr", "ar", "fa", "zh", "vi"):
        client.cookies.set("equicover_lang", language)
        for path in (
            "/window",
            f"/window/persons/{world.person_ids[0]}?on=2024-09-01",
            "/registry",
            "/registry/households/H1",
            "/registry/gaps",
            "/verification",
            "/dashboard",
            "/login",
        ):
            response = client.get(path)
            assert response.status_code == 200, (language, path, response.text[:300])
            direction = "rtl" if language in ("ar", "fa") else "ltr"
            assert f'<html lang="{language}" dir="{direction}">' in response.text
            assert not EXTERNAL.search(response.text), (language, path)


def test_static_assets_are_served_by_the_app(world_client) -> None:
    _, client = world_client
    for path in (
        "/static/app.css",
        "/static/app.js",
        "/static/charts.js",
        "/static/dashboard.js",
        "/static/vendor/echarts-6.1.0.min.js",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
    assert client.get("/static/../routes.py").status_code == 404
    assert client.get("/static/vendor/echarts-LICENSE.txt").status_code == 200
    css = client.get("/static/app.css").text
    # Mirroring comes from logical properties: no physical left/right in the stylesheet.
    assert not re.search(
        r"(?<![\w-])(margin|padding|border)-(left|right)\b|(?<![\w-])(left|right)\s*:|text-align:\s*(left|right)", css
    )


def test_cross_site_form_posts_are_refused(world_client) -> None:
    _, client = world_client
    _sign_in(client, "registrar", area="D1")
    response = client.post(
        "/language", data={**form_token(client), "language": "fr"}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},  # a sandboxed frame or a file
        {"Referer": "https://evil.example/page"},  # no Origin, another site's page
        {"Origin": "http://testserver.evil.example"},
    ],
)
def test_form_posts_from_nowhere_or_elsewhere_are_refused(world_client, headers) -> None:
    _, client = world_client
    _sign_in(client, "registrar", area="D1")
    assert client.post("/language", data={**form_token(client), "language": "fr"}, headers=headers).status_code == 403
    # The same post from the application's own page is taken.
    own = client.post(
        "/language",
        data={**form_token(client), "language": "fr"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert own.status_code == 303


def _settled_claims(session: Session, world, count: int = 3) -> list[Claim]:
    import datetime as dt

    from equicover.claims.schemas import ClaimIn
    from equicover.claims.service import submit_claim

    claims = []
    for number in range(count):
        claim, _ = submit_claim(
            session=session,
            claim=ClaimIn(
                claim_id=f"T-{number}",
                person_id=world.person_ids[0],
                provider_code="PA",
                service_date=dt.date(2024, 9, 1 + number),
                care_type="inpatient",
                diagnosis="J18",
                days=2,
                total=3_000_000 + number,
            ),
            actor="test",
        )
        claims.append(claim)
    session.flush()
    return claims


def test_verifier_rejects_a_claim_with_a_reason(world_client, session: Session) -> None:
    import datetime as dt

    from equicover.verification.models import ClaimReview
    from equicover.verification.service import draw_sample

    world, client = world_client
    _settled_claims(session, world)
    draw_sample(
        session=session,
        period_starts=dt.date(2024, 7, 1),
        period_ends=dt.date(2025, 6, 30),
        random_count=3,
        risk_count=0,
        seed=1,
    )
    session.commit()
    _sign_in(client, "verifier", area="D1", username="ver-1")
    queue = client.get("/verification")
    assert queue.status_code == 200
    review_ids = [int(found) for found in re.findall(r'href="/verification/reviews/(\d+)"', queue.text)]
    assert len(review_ids) == 3
    review_id = review_ids[0]
    detail = client.get(f"/verification/reviews/{review_id}")
    assert detail.status_code == 200 and 'data-testid="split"' in detail.text
    refused = client.post(
        f"/verification/reviews/{review_id}/decision", data={**form_token(client), "decision": "reject", "reason": ""}
    )
    assert refused.status_code == 422 and "Give the reason: it is required for this decision." in refused.text
    assert re.search(r'<textarea id="reason" name="reason" rows="3" aria-invalid="true"', refused.text)
    done = client.post(
        f"/verification/reviews/{review_id}/decision",
        data={**form_token(client), "decision": "reject", "reason": "no admission record"},
    )
    assert done.status_code == 303
    session.expire_all()
    review = session.get(ClaimReview, review_id)
    assert (review.status, review.decided_by, review.reason) == ("rejected", "web:ver-1", "no admission record")
    after = client.get(done.headers["location"])
    assert "rejected" in after.text and f'href="/verification/reviews/{review_id}"' not in after.text
    # A verifier of another district sees neither the queue entries nor the review.
    client.cookies.clear()
    _sign_in(client, "verifier", area="D2")
    assert 'href="/verification/reviews/' not in client.get("/verification").text
    assert client.get(f"/verification/reviews/{review_ids[1]}").status_code == 403


def test_dashboard_figures_add_up(world_client, session: Session) -> None:
    world, client = world_client
    claims = _settled_claims(session, world)
    session.commit()
    _sign_in(client, "fund_manager")
    figures = client.get("/dashboard/data.json", params={"year": "2024"}).json()
    assert figures["kpis"]["claims"] == "3"
    paid = sum(claim.allowed - claim.member_oop for claim in claims)
    assert figures["kpis"]["paid"] == f"{paid:,} VND"
    assert sum(sum(payer["values"]) for payer in figures["payers"]) == paid
    assert [month for month, value in enumerate(figures["payers"][0]["values"], 1) if value] == [9]
    assert {tile["code"] for tile in figures["tiles"]} == {"D1", "D2"}
    assert figures["providers"][0]["code"] == "PA"
    page = client.get("/dashboard", params={"year": "2024"})
    assert page.status_code == 200 and 'id="dashboard-data"' in page.text
