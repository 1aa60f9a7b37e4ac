"""The verifier reviews the HEF operators' acts of its districts on the verification pages: the
sampled acts, paged; one act, decided justified or not with a reason and an amount in riel; a
sample drawn for a period; the operators' scorecards beside the facilities'.

The world is ``tests.riel_world``'s stay at referral hospital RH (district D1), run by operator
OP-D1; OP-D2 runs district D2.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.verification.models import OperatorRecovery, OperatorReview
from equicover.web import verification_pages
from tests.api_helpers import form_token, login_as, make_client
from tests.riel_world import BILL
from tests.verification.operator_world import draw, operator_world

ACT_LINK = re.compile(r'href="/verification/operators/reviews/(\d+)"')
PERIOD = {"period_starts": "2015-01-01", "period_ends": "2015-12-31"}


@pytest.fixture
def drawn(session_factory: sessionmaker[Session], session: Session):
    operator_world(session)
    draw(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client


def _review_of(session: Session, at_stake: int) -> int:
    return session.scalar(select(OperatorReview.id).where(OperatorReview.at_stake == at_stake))


def test_the_verifier_sees_its_operators_acts_paged_largest_first(drawn, session: Session, monkeypatch) -> None:
    monkeypatch.setattr(verification_pages, "OPERATOR_PAGE_SIZE", 2)
    login_as(drawn, "verifier", area="D1", cookie=True)
    first = drawn.get("/verification/operators", params=PERIOD)
    assert first.status_code == 200
    assert "3 acts to review" in first.text and "Page 1 of 2" in first.text
    # The stay (bill and allowances) first, then the food allowance; riel have no decimals.
    assert ACT_LINK.findall(first.text) == [str(_review_of(session, BILL + 39_000)), str(_review_of(session, 30_000))]
    assert re.search(r'data-testid="at-stake">189,000 KHR<', first.text)
    second = drawn.get("/verification/operators", params={**PERIOD, "p": 2})
    assert ACT_LINK.findall(second.text) == [str(_review_of(session, 9_000))]
    assert 'href="/verification/operators"' in drawn.get("/verification").text  # the tab beside the claims


def test_another_districts_verifier_sees_none_of_them(drawn, session: Session) -> None:
    login_as(drawn, "verifier", area="D2", cookie=True)
    page = drawn.get("/verification/operators", params=PERIOD)
    assert page.status_code == 200 and ACT_LINK.findall(page.text) == []
    assert "Operator D1" not in page.text and "Operator D2" in page.text
    review = _review_of(session, 9_000)
    assert drawn.get(f"/verification/operators/reviews/{review}").status_code == 404
    refused = drawn.post(
        f"/verification/operators/reviews/{review}/finding", data={**form_token(drawn), "finding": "justified"}
    )
    assert refused.status_code == 404
    assert session.get(OperatorReview, review).status == "pending"
    # Nor may it draw from an operator of another area.
    other = drawn.post(
        "/verification/operators/sample",
        data={**form_token(drawn), "organisation": "OP-D1", **PERIOD, "cases": "1", "benefits": "1"},
    )
    assert other.status_code == 422 and 'aria-invalid="true"' in other.text


def test_a_finding_not_justified_takes_the_amount_in_riel_and_is_recovered(drawn, session: Session) -> None:
    login_as(drawn, "verifier", area="D1", cookie=True)
    review = _review_of(session, 30_000)
    page = drawn.get(f"/verification/operators/reviews/{review}")
    assert page.status_code == 200 and "food" in page.text
    done = drawn.post(
        f"/verification/operators/reviews/{review}/finding",
        data={**form_token(drawn), "finding": "not_justified", "reason": "two days not spent", "amount": "10,000"},
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/verification/operators?done={review}&finding=not_justified"
    session.expire_all()
    decided = session.get(OperatorReview, review)
    assert (decided.status, decided.disallowed) == ("not_justified", 10_000)
    assert decided.decided_by.startswith("web:verifier")
    assert sum(session.scalars(select(OperatorRecovery.amount).where(OperatorRecovery.review_id == review))) == 10_000
    history = drawn.get("/verification/operators", params={**PERIOD, "status": "decided"})
    assert ACT_LINK.findall(history.text) == [str(review)]
    assert re.search(r'data-testid="disallowed">10,000 KHR<', history.text)
    scorecards = re.search(r'data-testid="operator-scorecards">.*?</table>', history.text, re.S)
    assert scorecards is not None and "OP-D1" in scorecards.group(0) and "10,000 KHR" in scorecards.group(0)
    assert 'data-testid="provider-scorecards"' in history.text and ">RH<" in history.text


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"finding": "not_justified", "reason": ""}, "reason", "elle est obligatoire"),
        ({"finding": "not_justified", "reason": "x", "amount": "40 000"}, "amount", "ne peut dépasser"),
        ({"finding": "justified", "amount": "1"}, "amount", "est retenu que si"),
        ({"finding": "not_justified", "reason": "x", "amount": "12,5"}, "amount", "décimales"),
        ({"finding": "maybe"}, "finding", "Choisissez une conclusion"),
    ],
)
def test_refusals_are_translated_on_their_field(drawn, session: Session, form, field, message) -> None:
    login_as(drawn, "verifier", area="D1", language="fr", cookie=True)
    review = _review_of(session, 30_000)
    answer = drawn.post(f"/verification/operators/reviews/{review}/finding", data={**form_token(drawn), **form})
    assert answer.status_code == 422
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', answer.text)
    assert message in answer.text
    session.expire_all()
    assert session.get(OperatorReview, review).status == "pending"


def test_the_verifier_draws_a_sample_for_a_period(session_factory: sessionmaker[Session], session: Session) -> None:
    operator_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "verifier", area="D1", cookie=True)
    form = {**form_token(client), "organisation": "OP-D1", "cases": "1", "benefits": "5"}
    empty = client.post(
        "/verification/operators/sample", data={**form, "period_starts": "2015-04-01", "period_ends": "2015-04-30"}
    )
    assert empty.status_code == 303 and "drawn=0" in empty.headers["location"]
    done = client.post("/verification/operators/sample", data={**form, **PERIOD})
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert "3 acts drawn for review." in page.text and len(ACT_LINK.findall(page.text)) == 3
    assert all(review.drawn_by.startswith("web:verifier") for review in session.scalars(select(OperatorReview)))
    backwards = client.post(
        "/verification/operators/sample", data={**form, "period_starts": "2015-12-31", "period_ends": "2015-01-01"}
    )
    assert backwards.status_code == 422 and re.search(r'name="period_ends"[^>]*aria-invalid="true"', backwards.text)
    too_many = client.post("/verification/operators/sample", data={**form, **PERIOD, "cases": "many"})
    assert too_many.status_code == 422 and re.search(r'name="cases"[^>]*aria-invalid="true"', too_many.text)


def test_a_finding_without_the_forms_token_is_refused(drawn, session: Session) -> None:
    login_as(drawn, "verifier", area="D1", cookie=True)
    review = _review_of(session, 9_000)
    forged = drawn.post(f"/verification/operators/reviews/{review}/finding", data={"finding": "justified"})
    assert forged.status_code == 403
    session.expire_all()
    assert session.get(OperatorReview, review).status == "pending"


@pytest.mark.parametrize("language", ["fr", "ar", "fa", "zh", "vi"])
def test_the_operators_page_speaks_each_language(drawn, session: Session, language: str) -> None:
    from equicover.web.i18n import Localiser

    lang = Localiser(language)
    login_as(drawn, "verifier", area="D1", language=language, cookie=True)
    page = drawn.get("/verification/operators", params=PERIOD)
    assert page.status_code == 200
    assert lang.gettext("Draw a sample of an operator's acts").replace("'", "&#39;") in page.text
    caption = lang.ngettext("%(num)s act to review", "%(num)s acts to review", 3, num=lang.number(3))
    assert caption.replace("'", "&#39;") in page.text
    detail = drawn.get(f"/verification/operators/reviews/{_review_of(session, 30_000)}")
    assert lang.gettext("Record the finding") in detail.text and lang.money(30_000, 0) in detail.text
