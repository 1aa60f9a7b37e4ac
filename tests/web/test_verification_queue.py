"""The verifier's queue: paged with a true count, decided claims kept in a history filter with
their amounts, facilities by name, and why each claim was sampled in the verifier's language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.schemas import ClaimIn
from equicover.claims.service import submit_claim
from equicover.providers.models import Provider
from equicover.verification.models import ClaimReview
from equicover.verification.service import draw_sample
from equicover.web import verification_pages
from tests.api_helpers import form_token, login_as, make_client
from tests.factories import vn_world

REVIEW_LINK = re.compile(r'href="/verification/reviews/(\d+)"')


@pytest.fixture
def queue(session_factory: sessionmaker[Session], session: Session):
    world = vn_world(session)
    for number in range(5):
        submit_claim(
            session=session,
            claim=ClaimIn(
                claim_id=f"Q-{number}",
                person_id=world.person_ids[0],
                provider_code="PA",
                service_date=dt.date(2024, 9, 1 + number),
                care_type="inpatient",
                diagnosis="J18",
                days=2,
                total=3_000_000 + 1000 * number,
            ),
            actor="test",
        )
    draw_sample(
        session=session,
        period_starts=dt.date(2024, 7, 1),
        period_ends=dt.date(2025, 6, 30),
        random_count=3,
        risk_count=2,
        seed=3,
    )
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return world, client


def test_the_queue_is_paged_with_the_true_count(queue, monkeypatch) -> None:
    _, client = queue
    monkeypatch.setattr(verification_pages, "QUEUE_PAGE_SIZE", 2)
    login_as(client, "verifier", area="D1", cookie=True)
    seen: list[str] = []
    for number in (1, 2, 3):
        page = client.get("/verification", params={"p": number})
        assert page.status_code == 200
        assert "5 claims to review" in page.text
        assert f"Page {number} of 3" in page.text
        seen += REVIEW_LINK.findall(page.text)
    assert len(seen) == len(set(seen)) == 5
    assert client.get("/verification", params={"p": 10**7}).status_code == 404


def test_decided_claims_stay_visible_with_the_amount_disallowed(queue, session: Session) -> None:
    _, client = queue
    login_as(client, "verifier", area="D1", cookie=True)
    first, second = REVIEW_LINK.findall(client.get("/verification").text)[:2]
    for review_id, form in (
        (first, {"decision": "disallow", "reason": "two days not documented", "amount": "500000"}),
        (second, {"decision": "accept", "reason": ""}),
    ):
        done = client.post(f"/verification/reviews/{review_id}/decision", data={**form_token(client), **form})
        assert done.status_code == 303
    open_queue = client.get("/verification")
    assert "3 claims to review" in open_queue.text and f"/verification/reviews/{first}" not in open_queue.text
    history = client.get("/verification", params={"status": "decided"})
    assert "2 decided claims" in history.text
    assert REVIEW_LINK.findall(history.text)[:2] == [second, first]  # the latest decision first
    assert re.search(r'data-testid="disallowed">500,000<', history.text)
    only_partly = client.get("/verification", params={"status": "partly_disallowed"})
    assert REVIEW_LINK.findall(only_partly.text) == [first]
    detail = client.get(f"/verification/reviews/{first}")
    assert re.search(r'data-testid="disallowed">500,000 VND<', detail.text)


def test_facilities_by_name_and_sampling_reasons_in_french(queue, session: Session) -> None:
    _, client = queue
    review = session.scalars(select(ClaimReview).order_by(ClaimReview.id)).first()
    review.selection, review.risk_score = "risk", 14.25
    review.risk_reason = (
        "anomaly: cost 3.2x the peer median (z 4.1, district inpatient); stay 12 days vs peer median 4 (z 3.9); "
        "a reason no rule writes"
    )
    session.commit()
    login_as(client, "verifier", area="D1", language="fr", cookie=True)
    page = client.get("/verification")
    reason = re.search(rf'/verification/reviews/{review.id}".*?data-testid="risk-reason">([^<]*)<', page.text, re.S)
    assert reason is not None
    assert reason.group(1) == (
        "coût 3,2 fois la médiane des demandes semblables; un séjour de 12 jours contre une médiane de 4 "
        "pour les demandes semblables; a reason no rule writes"
    )
    assert "score 14,25" in page.text
    facility = session.scalars(select(ClaimReview.provider_id)).first()
    name = session.get(Provider, facility).name
    assert f"<td>{name} " in page.text
