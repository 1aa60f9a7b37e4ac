"""A claim that carries a referral letter is referred only when the letter holds for that care."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import Claim
from equicover.claims.settle_and_store import ClaimSubmission, submit_claims
from equicover.errors import ValidationFailed
from equicover.referrals import service
from equicover.referrals.models import ReferralLetter, ReferralLetterUse
from tests import factories as make
from tests.api_helpers import login_as, make_client

ISSUED = dt.date(2024, 9, 1)


def _province_world(session: Session) -> tuple[make.World, ReferralLetter]:
    """The VN world with PP, a provincial hospital in D2 under contract, and a letter from PA to PP
    for member two (who lives in D1: at PP she is out of area, so only a referral puts her on route)."""
    world = make.vn_world(session)
    make.provider(session, code="PP", level="province", location_code="D2")
    make.contract(session, provider_code="PP")
    letter = service.issue_letter(
        session=session,
        person_id=world.person_ids[1],
        from_provider_code="PA",
        to_provider_code="PP",
        diagnosis="I10",
        reason="blood pressure not controlled",
        issued_on=ISSUED,
    )
    session.flush()
    return world, letter


def _bill(world: make.World, claim_id: str, **changes: object):
    fields: dict[str, object] = dict(
        claim_id=claim_id,
        person_id=world.person_ids[1],
        provider_code="PP",
        service_date=ISSUED + dt.timedelta(days=2),
        diagnosis="I10",
        total=300_000,
    )
    fields.update(changes)
    return make.claim_in(**fields)  # type: ignore[arg-type]


def _paid(row: object) -> int:
    return sum(payment.amount for payment in row.settled_payments)  # type: ignore[attr-defined]


def _counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Claim)) or 0,
        session.scalar(select(func.count()).select_from(ReferralLetterUse)) or 0,
    )


def test_a_valid_letter_makes_the_claim_referred_and_the_policy_pays(session: Session) -> None:
    world, letter = _province_world(session)
    from equicover.claims.service import submit_claim

    without, _ = submit_claim(session=session, claim=_bill(world, "PP-1"))
    referred, _ = submit_claim(session=session, claim=_bill(world, "PP-2", referral_letter=letter.number))
    # Out of area at a provincial hospital, outpatient: nothing without a referral (vn-shi-2024).
    assert (without.referred, _paid(without)) == (False, 0)
    assert referred.referred is True
    assert _paid(referred) > 0
    assert service.claims_using(session=session, letter_id=letter.id) == [referred.id]
    again, created = submit_claim(session=session, claim=_bill(world, "PP-2", referral_letter=letter.number))
    assert (created, again.id) == (False, referred.id)
    assert service.claims_using(session=session, letter_id=letter.id) == [referred.id]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"person_id": "other"}, "the letter is for another patient"),
        ({"service_date": ISSUED + dt.timedelta(days=30)}, "the letter was valid until 2024-09-30"),
        ({"provider_code": "PB"}, "the letter refers the patient to another facility"),
        ({"referral_letter": "R0000000000"}, "no referral letter has this number"),
    ],
)
def test_a_letter_that_does_not_hold_refuses_the_claim_and_writes_nothing(
    session: Session, changes: dict[str, object], reason: str
) -> None:
    world, letter = _province_world(session)
    from equicover.claims.service import submit_claim

    changes = dict(changes)  # the parameter is shared by both databases' runs
    if changes.get("person_id") == "other":
        changes["person_id"] = world.other_person_id
    before = _counts(session)
    with pytest.raises(ValidationFailed) as refused:
        submit_claim(session=session, claim=_bill(world, "PP-X", **{"referral_letter": letter.number, **changes}))
    assert (refused.value.field, refused.value.reason) == ("referral_letter", reason)
    assert _counts(session) == before


def test_the_policy_sets_the_days_a_letter_is_valid(session: Session) -> None:
    world = make.vn_world(session)
    text = (make.POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8") + "\n[referral]\nletter_valid_days = 3\n"
    scheme = make.scheme(session, code="VN-3D")
    period = make.period(session, scheme_id=scheme.id)
    make.policy_version(session, scheme_code="VN-3D", source_text=text.replace('id = "vn-shi-2024"', 'id = "vn-3d"', 1))
    make.enrolment(session, person_id=world.person_ids[2], scheme_id=scheme.id, period_id=period.id)
    make.contract(session, provider_code="PA", scheme_code="VN-3D")
    letter = service.issue_letter(
        session=session,
        person_id=world.person_ids[2],
        from_provider_code="PC",
        to_level="district",
        diagnosis="J18.9",
        reason="pneumonia",
        issued_on=ISSUED,
    )
    from equicover.claims.service import letter_valid_days, submit_claim

    # the days its patient's policy gives on the issue day (what the letter page and FHIR show), else the default
    assert letter_valid_days(session=session, person_id=world.person_ids[2], on=ISSUED) == 3
    assert letter_valid_days(session=session, person_id=world.person_ids[0], on=ISSUED) == 30
    assert letter_valid_days(session=session, person_id=world.person_ids[2], on=dt.date(2020, 1, 1)) == 30
    common = dict(person_id=world.person_ids[2], provider_code="PA", referral_letter=letter.number, scheme_code="VN-3D")
    third_day, _ = submit_claim(
        session=session, claim=_bill(world, "3D-1", service_date=ISSUED + dt.timedelta(days=2), **common)
    )
    assert third_day.referred is True
    with pytest.raises(ValidationFailed, match="valid until 2024-09-03"):
        submit_claim(session=session, claim=_bill(world, "3D-2", service_date=ISSUED + dt.timedelta(days=3), **common))


def test_in_a_batch_a_bad_letter_refuses_its_claim_alone(session: Session) -> None:
    world, letter = _province_world(session)
    results = submit_claims(
        session=session,
        submissions=[
            ClaimSubmission(_bill(world, "B-1", referral_letter=letter.number)),
            ClaimSubmission(_bill(world, "B-2", referral_letter=letter.number, person_id=world.other_person_id)),
            ClaimSubmission(_bill(world, "B-3")),
        ],
    )
    first, second, third = results
    assert not isinstance(first, Exception) and first[0].referred is True
    assert isinstance(second, ValidationFailed) and second.reason == "the letter is for another patient"
    assert not isinstance(third, Exception) and third[0].referred is False
    assert service.claims_using(session=session, letter_id=letter.id) == [first[0].id]


def test_the_claim_endpoint_takes_the_letter_number(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        world, letter = _province_world(session)
        session.commit()
    client = make_client(session_factory=session_factory)
    clerk = login_as(client, "clerk", provider="PP")
    bill = _bill(world, "API-1", referral_letter=letter.number).model_dump(mode="json")
    stored = client.post("/api/v1/claims", json=bill, headers=clerk)
    assert stored.status_code == 201, stored.text
    assert stored.json()["referred"] is True
    other = {**bill, "claim_id": "API-2", "person_id": world.other_person_id}
    refused = client.post("/api/v1/claims", json=other, headers=clerk)
    assert refused.status_code == 422
    assert (refused.json()["field"], refused.json()["reason"]) == (
        "referral_letter",
        "the letter is for another patient",
    )
    shown = client.get(f"/api/v1/referrals/{letter.number}", headers=clerk)
    assert shown.json()["claim_ids"] == [stored.json()["id"]]
    assert (
        client.post(
            "/api/v1/claims", json={**bill, "claim_id": "API-3", "referral_letter": "R-1"}, headers=clerk
        ).status_code
        == 422
    )
