"""The web pages show whole riel for a scheme that counts whole riel (kh-hef-2015, minor_digits 0):
the verification queue and the claim's detail page show one amount, the dashboard whole riel."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session, sessionmaker

from equicover.verification.service import draw_sample
from equicover.web.i18n import Localiser
from tests.api_helpers import form_token, login_as, make_client
from tests.riel_world import ALLOWANCES, BILL, riel_world

LANGUAGES = ["en", "fr", "ar", "fa", "zh", "vi"]


@pytest.fixture
def riel_client(session_factory: sessionmaker[Session], session: Session):
    import datetime as dt

    world = riel_world(session)
    draw_sample(
        session=session,
        period_starts=dt.date(2015, 3, 1),
        period_ends=dt.date(2015, 3, 31),
        random_count=5,
        risk_count=0,
        seed=1,
    )
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return world, client


def _cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r'<td class="num"[^>]*>(.*?)</td>', html, re.S)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_queue_and_the_detail_show_the_same_whole_riel(riel_client, language: str) -> None:
    world, client = riel_client
    login_as(client, "verifier", area="D1", language=language, cookie=True)
    lang = Localiser(language)
    whole, as_if_sen = lang.money(BILL, 0), lang.money(BILL, 2)
    queue = client.get("/verification")
    assert queue.status_code == 200
    assert _cells(queue.text) == [whole]  # the one claim's "paid by the funds"
    review_id = re.findall(r'href="/verification/reviews/(\d+)"', queue.text)[0]
    detail = client.get(f"/verification/reviews/{review_id}")
    assert detail.status_code == 200
    cells = _cells(detail.text)
    # Total billed, then the HEF's payment: the same whole riel the queue shows.
    assert cells[:2] == [whole, whole]
    assert as_if_sen not in queue.text and as_if_sen not in detail.text


def test_a_disallowed_amount_is_read_in_whole_riel(riel_client) -> None:
    _, client = riel_client
    login_as(client, "verifier", area="D1", cookie=True)
    review_id = re.findall(r'href="/verification/reviews/(\d+)"', client.get("/verification").text)[0]
    refused = client.post(
        f"/verification/reviews/{review_id}/decision",
        data={**form_token(client), "decision": "disallow", "reason": "drugs not given", "amount": "100.50"},
    )
    assert refused.status_code == 422
    assert "The amount is not an amount (at most 0 decimals)." in refused.text
    done = client.post(
        f"/verification/reviews/{review_id}/decision",
        data={**form_token(client), "decision": "disallow", "reason": "drugs not given", "amount": "10000"},
    )
    assert done.status_code == 303


def test_the_dashboard_shows_whole_riel(riel_client) -> None:
    _, client = riel_client
    login_as(client, "fund_manager", cookie=True)
    data = client.get("/dashboard/data.json?year=2015")
    assert data.status_code == 200, data.text
    body = data.json()
    assert body["currency"] == "KHR"
    assert body["kpis"]["paid"] == f"{BILL + ALLOWANCES:,} KHR"
    assert [provider["amount_text"] for provider in body["providers"]] == [f"{BILL + ALLOWANCES:,}"]
    page = client.get("/dashboard?year=2015")
    assert page.status_code == 200 and "1,500.00" not in page.text


def test_a_claim_nothing_covered_shows_the_schemes_whole_riel(riel_client, session: Session) -> None:
    from tests import factories as make
    from tests.riel_world import SERVED

    _, client = riel_client
    stranger = make.person(session)  # not enrolled: settled with nothing paid, under no policy version
    claim = make.claim(
        session, claim_id="KH-NC", person_id=stranger.id, provider_code="RH", service_date=SERVED, total=BILL
    )
    assert claim.policy_version_id is None
    session.commit()
    login_as(client, "clerk", provider="RH", cookie=True)
    page = client.get("/window/claims/KH-NC")
    assert page.status_code == 200
    # The provider's contract names the scheme: its whole riel, not the ISO exponent's two digits.
    assert "150,000" in page.text and "1,500.00" not in page.text
