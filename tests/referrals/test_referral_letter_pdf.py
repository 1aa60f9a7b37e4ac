"""The printed referral letter: the patient's name in its script, the facilities, the number as text and QR."""

from __future__ import annotations

import datetime as dt

import pypdfium2 as pdfium
from sqlalchemy.orm import Session, sessionmaker

from equicover.referrals import service
from tests import factories as make
from tests.api_helpers import login_as, make_client


def test_the_letter_prints_what_the_receiving_facility_needs(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        make.vn_world(session)
        patient = make.person(session, full_name="فاطمة الزهراء بنعلي", location_code="C11")
        letter = service.issue_letter(
            session=session,
            person_id=patient.id,
            from_provider_code="PC",
            to_provider_code="PA",
            diagnosis="K35.8",
            reason="Suspected appendicitis; needs surgery.",
            issued_on=dt.date(2024, 9, 1),
        )
        number = letter.number
        session.commit()
    client = make_client(session_factory=session_factory)
    clerk = login_as(client, "clerk", provider="PA")
    answer = client.get(f"/api/v1/referrals/{number}/letter.pdf", headers=clerk)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    document = pdfium.PdfDocument(answer.content)
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    for expected in (
        number,
        "Facility PC (PC, commune)",
        "Facility PA (PA, district)",
        "K35.8",
        "Suspected appendicitis",
    ):
        assert expected in text
    assert "فاطمة" in text or "ةمطاف" in text
    outsider = login_as(client, "registrar", area="D2")
    assert client.get(f"/api/v1/referrals/{number}/letter.pdf", headers=outsider).status_code == 403
