"""A facility's complaint through the web: about a verifier's finding (upheld: the finding is
reversed, its recovery cancelled) and about a payment batch (upheld: a correction paid or deducted
in the facility's next batch), taken from the grievance pages and decided by the fund manager with
its act; and a registrar taking a member's complaint about a category from the household page.
On SQLite and PostgreSQL, with real reviews and batches."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.grievances.models import GrievanceCase, GrievanceStep
from equicover.ledger import service as ledger
from equicover.payments.models import PaymentCorrection
from equicover.verification.models import ClaimReview, Recovery
from tests import factories as make
from tests.api_helpers import form_token, login_as, make_client
from tests.grievances.facility_world import SEPTEMBER, disallowed, draft_batch, facility_year


@pytest.fixture
def facility(session: Session) -> tuple[int, int]:
    """PA's August claim paid then partly disallowed: the review id and the August batch id."""
    ids = disallowed(session, facility_year(session))
    session.commit()
    return ids


@pytest.fixture
def client(session_factory: sessionmaker[Session]) -> TestClient:
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client


def _file(client: TestClient, category: str, subject_id: int, **changes: str):
    """The facility's clerk files the complaint from the grievance form, prefilled by its link."""
    login_as(client, "clerk", provider="PA", cookie=True)
    form_page = client.get(f"/grievances/new?category={category}&subject={subject_id}")
    assert form_page.status_code == 200
    assert f'id="subject_id" name="subject_id" inputmode="numeric" maxlength="12" dir="ltr" value="{subject_id}"' in (
        form_page.text
    )
    assert 'name="complainant_provider_code" maxlength="64" dir="ltr" value="PA"' in form_page.text
    form = {
        "category": category,
        "subject_id": str(subject_id),
        "complainant_provider_code": "PA",
        "channel": "web",
        "description": "the documents were in the file",
        "opened_on": "2024-09-21",
        **changes,
    }
    return client.post("/grievances", data={**form, **form_token(client)})


def _opened_case(session: Session) -> GrievanceCase:
    session.expire_all()
    return session.scalars(select(GrievanceCase).order_by(GrievanceCase.id.desc())).first()  # type: ignore[return-value]


def _decide(client: TestClient, case_id: int, **fields: str):
    return client.post(
        f"/grievances/{case_id}/decision",
        data={"reasons": "the documents were there", "on": "2024-09-25", **fields, **form_token(client)},
    )


def _page_text(response) -> str:
    return re.sub(r"\s+", " ", response.text)


def test_a_facility_contests_a_finding_and_the_upheld_decision_reverses_it(
    facility: tuple[int, int], client: TestClient, session: Session
) -> None:
    review_id, _ = facility
    opened = _file(client, "verification_finding", review_id)
    assert opened.status_code == 303, _page_text(opened)[-800:]
    case = _opened_case(session)
    assert (case.category, case.subject_kind, case.subject_id) == ("verification_finding", "claim_review", review_id)
    login_as(client, "fund_manager", cookie=True)
    page = client.get(f"/grievances/{case.id}")
    assert page.status_code == 200
    text = _page_text(page)
    assert 'data-testid="finding"' in text and "AUG" in text and "Disallowed: 500,000 VND" in text
    assert 'data-testid="finding-act"' in text
    assert 'data-testid="batch-correction"' not in text  # a finding case corrects no batch by hand

    decided = _decide(client, case.id, outcome="upheld")
    assert decided.status_code == 303, _page_text(decided)[-800:]
    session.expire_all()
    review = session.get_one(ClaimReview, review_id)
    assert (review.status, review.disallowed) == ("confirmed", 0)
    assert session.scalar(select(func.count()).select_from(Recovery)) == 0
    # The next batch pays September in full: nothing is deducted for the reversed finding.
    assert draft_batch(session, SEPTEMBER).net_amount == 800_000
    shown = _page_text(client.get(decided.headers["location"]))
    assert "The case is decided." in shown
    assert 'data-testid="act-amount">500,000 VND' in shown


def test_a_finding_a_draft_batch_holds_is_refused_with_the_reason_and_nothing_changes(
    facility: tuple[int, int], client: TestClient, session: Session
) -> None:
    review_id, _ = facility
    draft_batch(session, SEPTEMBER)  # nets the recovery
    session.commit()
    assert _file(client, "verification_finding", review_id).status_code == 303
    case = _opened_case(session)
    login_as(client, "fund_manager", cookie=True, language="fr")
    refused = _decide(client, case.id, outcome="upheld")
    assert refused.status_code == 409
    assert "annulez le brouillon" in _page_text(refused)
    session.expire_all()
    assert session.get_one(ClaimReview, review_id).disallowed == 500_000
    assert session.get_one(GrievanceCase, case.id).status == "open"


def test_a_facility_contests_a_batch_and_the_next_batch_pays_the_correction(
    facility: tuple[int, int], client: TestClient, session: Session
) -> None:
    _, august_id = facility
    assert _file(client, "payment_batch", august_id).status_code == 303
    case = _opened_case(session)
    assert (case.subject_kind, case.subject_id) == ("payment_batch", august_id)
    login_as(client, "fund_manager", cookie=True)
    page = _page_text(client.get(f"/grievances/{case.id}"))
    assert 'data-testid="batch"' in page and "Paid: 2,000,000 VND" in page
    assert '<option value="shi"' in page  # the funds of the batch's currency to correct from

    # Upheld without saying what is owed, half a correction, or not an amount: refused on the field.
    missing = _decide(client, case.id, outcome="upheld")
    assert missing.status_code == 422
    assert "says what the next batch pays" in _page_text(missing)
    half = _decide(client, case.id, outcome="upheld", correction_amount="120,000")
    assert half.status_code == 422 and "names its amount and the fund" in _page_text(half)
    not_amount = _decide(client, case.id, outcome="upheld", correction_amount="lots", correction_fund="shi")
    assert not_amount.status_code == 422 and 'id="correction_amount"' in not_amount.text
    huge = _decide(client, case.id, outcome="upheld", correction_amount="9" * 30, correction_fund="shi")
    assert huge.status_code == 422 and "larger than any payment can be" in _page_text(huge)
    unknown_fund = _decide(client, case.id, outcome="upheld", correction_amount="120,000", correction_fund="nope")
    assert unknown_fund.status_code == 422 and "No fund has this code." in _page_text(unknown_fund)
    # A fund of other money is not offered, and refused when sent anyway, in the reader's language.
    ledger.ensure_fund(session=session, code="usd-relief", name="Relief (USD)", currency="USD", minor_digits=2)
    session.commit()
    assert '<option value="usd-relief"' not in client.get(f"/grievances/{case.id}").text
    other_money = _decide(client, case.id, outcome="upheld", correction_amount="120,000", correction_fund="usd-relief")
    assert other_money.status_code == 422 and "another currency than the contested batch" in _page_text(other_money)
    client.cookies.set("equicover_lang", "fr")
    other_money = _decide(client, case.id, outcome="upheld", correction_amount="120 000", correction_fund="usd-relief")
    assert "une autre monnaie que le lot contesté" in _page_text(other_money)
    client.cookies.set("equicover_lang", "en")
    rejected_with_act = _decide(client, case.id, outcome="rejected", correction_amount="120,000", correction_fund="shi")
    assert rejected_with_act.status_code == 422
    assert "neither refunds nor corrects" in _page_text(rejected_with_act)
    assert session.scalar(select(func.count()).select_from(PaymentCorrection)) == 0

    decided = _decide(
        client, case.id, outcome="upheld", correction_amount="120,000", correction_direction="more",
        correction_fund="shi",
    )  # fmt: skip
    assert decided.status_code == 303, _page_text(decided)[-800:]
    session.expire_all()
    owed = session.scalars(select(PaymentCorrection)).one()
    assert (owed.amount, owed.fund_code, owed.source) == (120_000, "shi", f"grievance {case.id}")
    september = draft_batch(session, SEPTEMBER)
    # September's claim, less the finding's recovery, plus the correction.
    assert september.net_amount == 800_000 - 500_000 + 120_000
    acts = session.scalars(
        select(GrievanceStep.amount).where(GrievanceStep.case_id == case.id, GrievanceStep.kind == "action")
    ).all()
    assert acts == [120_000]


def test_a_partly_upheld_batch_case_deducts_from_the_next_batch(
    facility: tuple[int, int], client: TestClient, session: Session
) -> None:
    _, august_id = facility
    assert _file(client, "payment_batch", august_id).status_code == 303
    case = _opened_case(session)
    login_as(client, "fund_manager", cookie=True)
    decided = _decide(
        client, case.id, outcome="partly_upheld", correction_amount="50,000", correction_direction="less",
        correction_fund="shi",
    )  # fmt: skip
    assert decided.status_code == 303, _page_text(decided)[-800:]
    session.expire_all()
    assert session.scalars(select(PaymentCorrection.amount)).all() == [-50_000]
    shown = _page_text(client.get(f"/grievances/{case.id}"))
    assert "Deducted from the next batch: " in shown


def test_another_facility_cannot_contest_the_batch(
    facility: tuple[int, int], client: TestClient, session: Session
) -> None:
    _, august_id = facility
    make.provider(session, code="PZ", location_code="D1")
    session.commit()
    login_as(client, "clerk", provider="PZ", cookie=True)
    form = {
        "category": "payment_batch", "subject_id": str(august_id), "complainant_provider_code": "PZ",
        "channel": "web", "description": "not ours", "opened_on": "2024-09-21",
    }  # fmt: skip
    refused = client.post("/grievances", data={**form, **form_token(client)})
    assert refused.status_code == 422
    assert "The record is another facility&#39;s." in refused.text or "The record is another facility's." in (
        refused.text
    )
    # Nor file it in the name of the facility the batch paid.
    in_its_name = client.post("/grievances", data={**form, "complainant_provider_code": "PA", **form_token(client)})
    assert in_its_name.status_code == 422
    assert "in the name of their own facility" in _page_text(in_its_name)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(GrievanceCase)) == 0


def test_a_registrar_takes_a_category_complaint_from_the_household_page(
    session_factory: sessionmaker[Session], client: TestClient
) -> None:
    with session_factory() as session:
        world = make.vn_world(session)
        member = world.person_ids[1]
        session.commit()
    login_as(client, "registrar", area="LC", cookie=True)
    household = client.get("/registry/households/H1")
    assert household.status_code == 200
    link = f'href="/grievances/new?person={member}&amp;category=category_decision"'
    assert link in household.text
    form_page = client.get(f"/grievances/new?person={member}&category=category_decision")
    assert form_page.status_code == 200
    assert '<option value="category_decision" selected>' in form_page.text
    assert 'href="/registry/households/H1" data-testid="back-to-household"' in form_page.text
    form = {
        "category": "category_decision", "complainant_person_id": str(member), "person_fixed": "1",
        "subject_id": "", "channel": "phone", "description": "we are poor, not near-poor", "opened_on": "",
    }  # fmt: skip
    opened = client.post("/grievances", data={**form, **form_token(client)})
    assert opened.status_code == 303, _page_text(opened)[-800:]
    with session_factory() as session:
        case = session.scalars(select(GrievanceCase)).one()
        assert (case.category, case.subject_kind, case.subject_id) == ("category_decision", "person", member)
        assert (case.handler_role, case.complainant_person_id, case.channel) == ("registrar", member, "phone")
    # The registrar handles it: the case page opens with the decision form.
    page = client.get(opened.headers["location"])
    assert page.status_code == 200 and 'data-testid="decision-form"' in page.text
    # A clerk of a facility sees no such link: the household page is the registry's.
    login_as(client, "clerk", provider="PA", cookie=True)
    assert link not in client.get("/registry/households/H1").text
