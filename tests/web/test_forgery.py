"""Forged posts are refused: every state-changing form needs the anti-forgery token of the browser
that opened it, and the JSON API signed in by the session cookie needs it as a header."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.auth.deps import SESSION_COOKIE
from equicover.claims.models import Claim
from equicover.http import csrf
from tests.api_helpers import TEST_PASSWORD, form_token, login_as

HIDDEN_TOKEN = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]{64})">')


def _token_on(html: str) -> str:
    found = HIDDEN_TOKEN.findall(html)
    assert found, "the page has no form with the anti-forgery field"
    assert len(set(found)) == 1, "every form of one page carries the same token"
    return found[0]


def test_sign_in_takes_the_token_of_the_login_page_and_refuses_a_post_without_it(world_client) -> None:
    _, client = world_client
    login_as(client, "registrar", area="D1", username="reg-forgery")
    client.cookies.clear()
    credentials = {"username": "reg-forgery", "password": TEST_PASSWORD}
    # A post with no page behind it: refused, in the browser's language, and nobody is signed in.
    forged = client.post("/login", data=credentials, headers={"Accept-Language": "fr"})
    assert forged.status_code == 403
    assert "Ce formulaire ne peut pas être envoyé" in forged.text
    assert SESSION_COOKIE not in forged.cookies
    client.cookies.clear()
    page = client.get("/login")
    cookie = page.cookies.get(csrf.FORM_COOKIE)
    assert cookie, "the first page hands a pre-session cookie"
    set_cookie = page.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    signed_in = client.post("/login", data={**credentials, "csrf_token": _token_on(page.text)})
    assert signed_in.status_code == 303 and SESSION_COOKIE in signed_in.cookies


def test_signing_in_changes_the_token_so_a_page_of_before_cannot_post(world_client) -> None:
    _, client = world_client
    before = _token_on(client.get("/login").text)
    login_as(client, "registrar", area="D1", cookie=True)
    after = _token_on(client.get("/registry").text)
    assert after != before
    stale = client.post("/language", data={"language": "fr", "csrf_token": before})
    assert stale.status_code == 403
    fresh = client.post("/language", data={"language": "fr", "csrf_token": after})
    assert fresh.status_code == 303


@pytest.mark.parametrize(
    "token",
    ["", "0" * 64, csrf.token_for("another browser's session"), "not-hex"],
    ids=["empty", "zeros", "another-browser", "garbage"],
)
def test_a_bill_posted_without_this_browsers_token_settles_nothing(world_client, session: Session, token) -> None:
    world, client = world_client
    login_as(client, "clerk", provider="PA", cookie=True)
    poor = world.person_ids[0]
    person = client.get(f"/window/persons/{poor}", params={"on": "2024-09-01"})
    claim_id = re.search(r'name="claim_id" value="([^"]+)"', person.text).group(1)
    form = {
        "claim_id": claim_id,
        "service_date": "2024-09-01",
        "care_type": "inpatient",
        "diagnosis": "J18",
        "total": "2000000",
        "days": "3",
    }
    refused = client.post(f"/window/persons/{poor}/bill", data={**form, "csrf_token": token})
    assert refused.status_code == 403 and "This form cannot be sent" in refused.text
    assert session.scalars(select(Claim)).all() == []
    # The same bill with the token of the page it was typed on is settled.
    settled = client.post(f"/window/persons/{poor}/bill", data={**form, "csrf_token": _token_on(person.text)})
    assert settled.status_code == 303
    assert len(session.scalars(select(Claim)).all()) == 1


def test_sign_out_without_the_token_keeps_the_session(world_client) -> None:
    _, client = world_client
    login_as(client, "registrar", area="D1", cookie=True)
    assert client.post("/logout").status_code == 403
    assert client.get("/registry").status_code == 200
    assert client.post("/logout", data=form_token(client)).status_code == 303
    assert client.get("/registry").status_code == 303


def test_the_api_signed_in_by_the_cookie_needs_the_token_as_a_header(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "clerk", provider="PA", cookie=True)
    bill = {
        "claim_id": "COOKIE-1",
        "person_id": world.person_ids[0],
        "provider_code": "PA",
        "service_date": "2024-09-01",
        "care_type": "inpatient",
        "diagnosis": "J18",
        "days": 3,
        "total": 2_000_000,
    }
    forged = client.post("/api/v1/claims", json=bill)
    assert forged.status_code == 403
    assert forged.json()["field"] == csrf.HEADER
    assert session.scalars(select(Claim)).all() == []
    token = form_token(client)["csrf_token"]
    assert client.post("/api/v1/claims", json=bill, headers={csrf.HEADER: token}).status_code == 201
    # Reading needs no token; a bearer token needs none either.
    assert client.get("/api/v1/claims").status_code == 200
    bearer = login_as(client, "clerk", provider="PA")
    assert client.post("/api/v1/claims", json={**bill, "claim_id": "BEARER-1"}, headers=bearer).status_code == 201
