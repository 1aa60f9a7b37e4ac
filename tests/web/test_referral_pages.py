"""Referral letters at the window: issued, printed, listed and checked by the clerk, sent back by
the receiving facility, and carried by a bill the window settles; bad input refused on its field in
the clerk's language with nothing stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import Claim
from equicover.referrals import service as referrals
from equicover.referrals.models import ReferralLetter, ReferralLetterUse
from tests import factories as make
from tests.api_helpers import form_token, login_as, make_client

ISSUED = dt.date(2024, 9, 1)


@pytest.fixture
def world(session: Session) -> make.World:
    """The VN world with PP, a provincial hospital in D2 under contract: member two lives in D1, so
    at PP only a referral puts her on route."""
    world = make.vn_world(session)
    make.provider(session, code="PP", level="province", location_code="D2")
    make.contract(session, provider_code="PP")
    session.commit()
    return world


@pytest.fixture
def client(session_factory: sessionmaker[Session]) -> TestClient:
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client


def _letter_form(**changes: str) -> dict[str, str]:
    form = {
        "destination": "facility",
        "to_provider_code": "PP",
        "to_level": "province",
        "diagnosis": "I10",
        "reason": "blood pressure not controlled",
        "issued_on": ISSUED.isoformat(),
    }
    form.update(changes)
    return form


def _letters(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ReferralLetter)) or 0


def _issue(client: TestClient, person_id: int, **changes: str):
    return client.post(f"/window/persons/{person_id}/referrals", data={**_letter_form(**changes), **form_token(client)})


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def _letter_to_pp(session: Session, person_id: int) -> ReferralLetter:
    """A letter from PA to PP for the person's blood pressure, issued and committed."""
    letter = referrals.issue_letter(
        session=session,
        person_id=person_id,
        from_provider_code="PA",
        to_provider_code="PP",
        diagnosis="I10",
        reason="blood pressure",
        issued_on=ISSUED,
    )
    session.commit()
    return letter


def test_the_clerk_issues_prints_lists_and_checks_a_letter(world: make.World, client: TestClient, session) -> None:
    member = world.person_ids[1]
    login_as(client, "clerk", provider="PA", cookie=True)
    assert client.get(f"/window/persons/{member}").text.count(f"/window/persons/{member}/referrals") == 1
    form_page = client.get(f"/window/persons/{member}/referrals")
    assert form_page.status_code == 200
    assert 'data-testid="referral-form"' in form_page.text
    assert "No referral letter yet." in form_page.text

    issued = _issue(client, member)
    assert issued.status_code == 303, issued.text[:500]
    number = issued.headers["location"].split("/")[3].split("?")[0]
    letter = session.scalars(select(ReferralLetter).where(ReferralLetter.number == number)).one()
    assert (letter.person_id, letter.to_level, letter.issued_on, letter.status) == (member, None, ISSUED, "issued")

    shown = client.get(issued.headers["location"])
    assert shown.status_code == 200
    assert f"Referral letter {number} issued." in shown.text
    # Valid 30 days from its date under vn-shi-2024: until 30 September.
    assert 'data-testid="valid-until">Sep 30, 2024<' in shown.text
    pdf = client.get(f"/window/referrals/{number}/letter.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    listed = client.get(f"/window/persons/{member}/referrals")
    assert f'href="/window/referrals/{number}"' in listed.text

    # At the receiving hospital: the letter holds for member two in its validity, nowhere else.
    login_as(client, "clerk", provider="PP", cookie=True)
    verdicts = {
        "valid": (member, "2024-09-03", "The letter is valid for this care until Sep 30, 2024."),
        "expired": (member, "2024-10-01", "The letter has expired: it was valid until Sep 30, 2024."),
        "before": (member, "2024-08-31", "The care is dated before the letter."),
        "other patient": (world.person_ids[0], "2024-09-03", "This letter is for another patient."),
    }
    for person_id, on, said in verdicts.values():
        checked = client.get("/window/referrals", params={"number": number, "person": person_id, "on": on})
        assert checked.status_code == 200
        assert str(escape(said)) in checked.text, (on, _text(checked.text)[-1500:])
    assert (
        'data-valid="yes"'
        in client.get("/window/referrals", params={"number": number.lower(), "on": "2024-09-03"}).text
    )
    unknown = client.get("/window/referrals", params={"number": "R0000000000"})
    assert unknown.status_code == 422
    assert "No referral letter has this number." in unknown.text
    assert 'id="number" name="number"' in unknown.text and 'aria-invalid="true"' in unknown.text

    # A clerk of another facility (PB) reads it as a letter for another facility.
    login_as(client, "clerk", provider="PB", cookie=True)
    elsewhere = client.get("/window/referrals", params={"number": number, "person": member, "on": "2024-09-03"})
    assert "The letter refers the patient to another facility." in elsewhere.text


def test_a_letter_used_by_its_patient_is_used_by_another_patient_for_the_next(
    world: make.World, client: TestClient, session
) -> None:
    member = world.person_ids[1]
    login_as(client, "clerk", provider="PA", cookie=True)
    number = _issue(client, member).headers["location"].split("/")[3].split("?")[0]
    login_as(client, "clerk", provider="PP", cookie=True)
    settled = client.post(
        f"/window/persons/{member}/bill",
        data={
            "claim_id": "PP-REF-1",
            "service_date": "2024-09-03",
            "care_type": "outpatient",
            "diagnosis": "I10",
            "total": "300000",
            "days": "0",
            "referral_letter": number,
            **form_token(client),
        },
    )
    assert settled.status_code == 303, _text(settled.text)[-800:]
    checked = client.get(
        "/window/referrals", params={"number": number, "person": world.person_ids[0], "on": "2024-09-03"}
    )
    assert "This letter is another patient&#39;s and was used for that patient&#39;s bills." in checked.text


@pytest.mark.parametrize(
    ("changes", "field", "english", "french"),
    [
        ({"diagnosis": "XYZ"}, "diagnosis", "The diagnosis is not an ICD-10 code", "Le diagnostic n'est pas un code"),
        ({"reason": " "}, "reason", "Say why the patient is referred.", "Indiquez pourquoi le patient est référé."),
        ({"issued_on": "2024-02-31"}, "issued_on", "The date is not a date (YYYY-MM-DD).", "La date n'est pas"),
        ({"issued_on": "2099-01-01"}, "issued_on", "The date is after today.", "La date est postérieure"),
        ({"issued_on": "1970-01-01"}, "issued_on", "outside the patient's lifetime", "hors de la vie du patient"),
        ({"to_provider_code": "NOPE"}, "to_provider_code", "No facility has this code.", "Aucun établissement"),
        (
            {"to_provider_code": "PA"},
            "to_provider_code",
            "does not refer a patient to itself",
            "ne réfère pas un patient à lui-même",
        ),
        ({"destination": "level", "to_level": ""}, "to", "Name a level of care or a facility", "Indiquez un niveau"),
        ({"destination": "level", "to_level": "moon"}, "to", "Choose a level of care that", "Choisissez un niveau"),
    ],
)
def test_a_bad_letter_is_refused_on_its_field_in_the_clerks_language(
    world: make.World, client: TestClient, session, changes, field, english, french
) -> None:
    for language, message in (("en", english), ("fr", french)):
        login_as(client, "clerk", provider="PA", language=language, cookie=True)
        refused = _issue(client, world.person_ids[1], **changes)
        assert refused.status_code == 422, refused.text[:300]
        assert str(escape(message)) in refused.text, _text(refused.text)[-1500:]
        # The refused input is marked and described by the message, with what was typed kept.
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text) or field == "to"
    assert _letters(session) == 0


def _bill(client: TestClient, person_id: int, claim_id: str, letter: str, on: str = "2024-09-03"):
    return client.post(
        f"/window/persons/{person_id}/bill",
        data={
            "claim_id": claim_id,
            "service_date": on,
            "care_type": "outpatient",
            "diagnosis": "I10",
            "total": "300000",
            "days": "0",
            "referral_letter": letter,
            **form_token(client),
        },
    )


def test_the_window_settles_a_bill_with_its_letter_and_refuses_one_that_does_not_hold(
    world: make.World, client: TestClient, session
) -> None:
    member = world.person_ids[1]
    letter = _letter_to_pp(session, member)
    login_as(client, "clerk", provider="PP", language="fr", cookie=True)
    refusals = [
        (member, "2024-10-01", letter.number, "La lettre a expiré pour cette date de soins."),
        (world.person_ids[0], "2024-09-03", letter.number, "Cette lettre est destinée à un autre patient."),
        (member, "2024-09-03", "R0000000000", "Aucune lettre de référence ne porte ce numéro."),
        (member, "2024-09-03", "R-12", "Aucune lettre de référence ne porte ce numéro."),
    ]
    for person_id, on, number, message in refusals:
        refused = _bill(client, person_id, f"PP-X-{person_id}-{on}", number, on)
        assert refused.status_code == 422, _text(refused.text)[-800:]
        assert str(escape(message)) in refused.text, _text(refused.text)[-1500:]
        assert re.search(r'name="referral_letter"[^>]*aria-invalid="true"', refused.text)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Claim)) == 0

    settled = _bill(client, member, "PP-1", letter.number.lower())
    assert settled.status_code == 303, _text(settled.text)[-800:]
    session.expire_all()
    claim = session.scalars(select(Claim).where(Claim.claim_id == "PP-1")).one()
    assert claim.referred is True
    assert session.scalars(select(ReferralLetterUse.letter_id).where(ReferralLetterUse.claim_pk == claim.id)).one() == (
        letter.id
    )


def test_the_receiving_facility_sends_the_patient_back(world: make.World, client: TestClient, session) -> None:
    member = world.person_ids[1]
    letter = _letter_to_pp(session, member)
    path = f"/window/referrals/{letter.number}/counter-referral"
    login_as(client, "clerk", provider="PB", language="fr", cookie=True)
    wrong = client.post(path, data={"on": "2024-09-05", "note": "seen", **form_token(client)})
    assert wrong.status_code == 422
    assert "La lettre référait le patient à un autre établissement" in _text(wrong.text)

    login_as(client, "clerk", provider="PP", cookie=True)
    for form, field, message in (
        ({"on": "2024-08-01", "note": "seen"}, "on", "The patient cannot be sent back before the letter was issued."),
        ({"on": "2024-13-01", "note": "seen"}, "on", "The date is not a date (YYYY-MM-DD)."),
        ({"on": "2024-09-05", "note": " "}, "note", "Say what was done and the advice for the referring facility."),
    ):
        refused = client.post(path, data={**form, **form_token(client)})
        assert refused.status_code == 422
        assert message in refused.text
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text)
    session.expire_all()
    assert session.get(ReferralLetter, letter.id).status == "issued"

    sent = client.post(path, data={"on": "2024-09-05", "note": "controlled; follow up monthly", **form_token(client)})
    assert sent.status_code == 303
    page = client.get(sent.headers["location"])
    assert "The patient was sent back: the counter-referral is recorded." in page.text
    assert 'data-testid="counter"' in page.text
    session.expire_all()
    stored = session.get(ReferralLetter, letter.id)
    assert stored is not None and (stored.status, stored.counter_on) == ("counter_referred", dt.date(2024, 9, 5))
    after = client.get("/window/referrals", params={"number": letter.number, "person": member, "on": "2024-09-06"})
    assert "The patient was sent back on Sep 5, 2024: the letter refers no care after that day." in after.text


def test_the_letter_pages_are_the_window_roles(world: make.World, client: TestClient, session) -> None:
    letter = referrals.issue_letter(
        session=session,
        person_id=world.person_ids[1],
        from_provider_code="PA",
        to_level="province",
        diagnosis="I10",
        reason="blood pressure",
        issued_on=ISSUED,
    )
    session.commit()
    login_as(client, "verifier", area="D1", cookie=True)
    assert client.get(f"/window/referrals/{letter.number}").status_code == 403
    assert client.get(f"/window/persons/{world.person_ids[1]}/referrals").status_code == 403
    login_as(client, "clerk", provider="PA", cookie=True)
    assert client.get("/window/referrals/R0000000000").status_code == 404
    home = client.get("/window")
    assert 'data-nav="referrals"' in home.text and 'data-nav="grievances"' in home.text
