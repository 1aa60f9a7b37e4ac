"""A clerk reverses a bill at the window, with the reason, and reads what happens to its payment."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims import service as claims
from equicover.claims.adjustments import member_refund
from equicover.ledger import service as ledger
from equicover.payments import service as payments
from tests import factories as make
from tests.api_helpers import form_token, login_as, make_client

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))
MARCH = (dt.date(2018, 3, 1), dt.date(2018, 3, 31))


@pytest.fixture
def world_client(session_factory: sessionmaker[Session], session: Session):
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    for code in ("PA", "PB"):
        make.provider(session, code=code, level="county", location_code="D1")
        make.contract(session, provider_code=code, scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    member = make.enrolled_person(session, scheme=year).id
    for claim_id, day, total in (("O1", 1, 30_000), ("O2", 5, 20_000)):
        make.claim(session, claim_id=claim_id, person_id=member, service_date=dt.date(2018, 3, day), total=total)
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client


def _reverse(client, claim_id: str, reason: str):
    return client.post(
        f"/window/claims/{claim_id}/reversal", params={"provider": "PA"}, data={**form_token(client), "reason": reason}
    )


def test_a_reversal_needs_a_reason_and_says_an_unpaid_bill_will_not_be_paid(world_client, session: Session) -> None:
    client = world_client
    login_as(client, "clerk", provider="PA", cookie=True)
    page = client.get("/window/claims/O2")
    assert 'data-testid="reversal"' in page.text
    refused = _reverse(client, "O2", "  ")
    assert refused.status_code == 422 and "Say why the bill is reversed." in refused.text
    assert re.search(r'<textarea id="reason"[^>]* aria-invalid="true"', refused.text)
    assert claims.get_claim(session=session, claim_id="O2").status == "settled"
    done = _reverse(client, "O2", "billed to the wrong patient")
    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert "Bill O2 reversed. It had not been paid yet: it will not be paid." in after.text
    assert "This bill was reversed. Reason: billed to the wrong patient" in after.text
    assert 'data-testid="reversal"' not in after.text
    session.expire_all()
    row = claims.get_claim(session=session, claim_id="O2")
    assert (row.status, row.reversal_reason) == ("reversed", "billed to the wrong patient")
    assert row.reversed_by.startswith("web:clerk-")
    again = _reverse(client, "O2", "twice")
    assert again.status_code == 409 and "This bill was reversed." in again.text


def test_a_paid_bill_is_recovered_and_the_later_bill_settled_again_in_french(world_client, session: Session) -> None:
    client = world_client
    ledger.post_claim_settlements(session=session, up_to=MARCH[1], currency="CNY", minor_digits=2)
    batch = payments.draft_batch(
        session=session, provider_code="PA", period_starts=MARCH[0], period_ends=MARCH[1], actor="maker",
        currency="CNY",
    )  # fmt: skip
    payments.approve_batch(session=session, batch_id=batch.id, actor="checker", actor_role="fund_manager")
    session.commit()
    login_as(client, "clerk", provider="PA", language="fr", cookie=True)
    done = _reverse(client, "O1", "patient jamais venu")
    assert done.status_code == 303
    after = client.get(done.headers["location"]).text
    assert "La facture O1 est annulée." in after
    assert "ce que les fonds ont payé est récupéré sur son prochain paiement" in after
    assert "1 facture ultérieure du patient a été réglée de nouveau." in after


def test_another_facilitys_clerk_cannot_reverse(world_client, session: Session) -> None:
    client = world_client
    login_as(client, "clerk", provider="PB", cookie=True)
    refused = _reverse(client, "O1", "not ours")
    assert refused.status_code in (403, 404)
    session.expire_all()
    assert claims.get_claim(session=session, claim_id="O1").status == "settled"


def test_a_refund_decided_on_a_complaint_reads_as_such(world_client, session: Session) -> None:
    client = world_client
    row = claims.get_claim(session=session, claim_id="O2")
    member_refund(session=session, claim_pk=row.id, amount=1_000, layer_id="outpatient_pool", actor="grievance")
    session.commit()
    login_as(client, "clerk", provider="PA", language="fr", cookie=True)
    page = client.get("/window/claims/O2").text
    assert "Une réclamation a été jugée fondée" in page
    assert re.search(r'data-testid="patient-now">[^<]*', page)


def test_the_receipt_pdf_names_the_policy_like_the_printed_receipt(world_client) -> None:
    import pypdfium2

    client = world_client
    login_as(client, "clerk", provider="PA", cookie=True)
    pdf = client.get("/window/claims/O1/receipt.pdf")
    assert pdf.status_code == 200
    document = pypdfium2.PdfDocument(pdf.content)
    text = "".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    assert "Policy" in text and "Ya'an one-stop settlement for registered poor (2018)" in text.replace("\r\n", " ")
