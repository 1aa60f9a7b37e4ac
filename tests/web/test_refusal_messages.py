"""A refusal reads in the user's language and units, on the field it concerns (aria-invalid, focus),
never as a service's English "field: reason"."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims.models import Claim
from equicover.claims.schemas import ClaimIn
from equicover.claims.service import submit_claim
from equicover.enrolment.models import Enrolment
from equicover.verification.models import ClaimReview
from equicover.verification.service import draw_sample
from tests.api_helpers import form_token, login_as


def _marked(html: str, element: str, field: str) -> bool:
    return (
        bool(
            re.search(
                rf'<{element} id="{field}" name="{field}"[^>]* aria-invalid="true" aria-describedby="form-error"', html
            )
        )
        and 'id="form-error"' in html
    )


def test_a_total_beyond_any_bill_is_refused_in_the_clerks_units_on_the_field(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "clerk", provider="PA", language="fr", cookie=True)
    poor = world.person_ids[0]
    form = {
        **form_token(client),
        "claim_id": "FR-BIG",
        "service_date": "2024-09-01",
        "care_type": "inpatient",
        "diagnosis": "J18",
        "total": "10000000000000001",  # dong: one more than the largest amount kept
        "days": "3",
    }
    refused = client.post(f"/window/persons/{poor}/bill", data=form)
    assert refused.status_code == 422
    # VND has no minor unit: the limit is said in dong, written the French way.
    assert "Le total dépasse ce que peut être une facture (au plus 1\u202f000\u202f000\u202f000\u202f000\u202f000)" in (
        refused.text
    )
    assert _marked(refused.text, "input", "total") and "autofocus" in refused.text
    assert "Input should be" not in refused.text and "total:" not in refused.text
    refused = client.post(f"/window/persons/{poor}/bill", data={**form, "total": "1000", "diagnosis": "chest pain"})
    assert _marked(refused.text, "input", "diagnosis")
    assert session.scalars(select(Claim)).all() == []


def _review(session: Session, world) -> int:
    submit_claim(
        session=session,
        claim=ClaimIn(
            claim_id="V-1",
            person_id=world.person_ids[0],
            provider_code="PA",
            service_date=dt.date(2024, 9, 1),
            care_type="inpatient",
            diagnosis="J18",
            days=2,
            total=3_000_000,
        ),
        actor="test",
    )
    draw_sample(
        session=session,
        period_starts=dt.date(2024, 7, 1),
        period_ends=dt.date(2025, 6, 30),
        random_count=1,
        risk_count=0,
        seed=1,
    )
    session.commit()
    return session.scalars(select(ClaimReview.id)).one()


def test_the_verifiers_refusals_are_in_arabic_and_an_amount_with_accept_is_not_dropped(
    world_client, session: Session
) -> None:
    world, client = world_client
    review_id = _review(session, world)
    login_as(client, "verifier", area="D1", language="ar", cookie=True)
    target = f"/verification/reviews/{review_id}/decision"
    no_reason = client.post(target, data={**form_token(client), "decision": "reject", "reason": ""})
    assert no_reason.status_code == 422 and "اذكر السبب: إنه مطلوب لهذا القرار." in no_reason.text
    assert re.search(r'<textarea id="reason" name="reason" rows="3" aria-invalid="true"', no_reason.text)
    accepted_with_amount = client.post(
        target, data={**form_token(client), "decision": "accept", "reason": "", "amount": "500"}
    )
    assert accepted_with_amount.status_code == 422
    assert "لا يؤخذ المبلغ إلا عند رفض جزء من المطالبة." in accepted_with_amount.text
    assert _marked(accepted_with_amount.text, "input", "amount")
    too_much = client.post(
        target, data={**form_token(client), "decision": "disallow", "reason": "x", "amount": "3000000"}
    )
    assert too_much.status_code == 422 and "يجب أن يكون المبلغ المرفوض أقل مما دفعه الدافعون" in too_much.text
    session.expire_all()
    assert session.get(ClaimReview, review_id).status == "pending"


def test_the_registrars_enrolment_refusal_is_in_persian(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", language="fa", cookie=True)
    unenrolled = world.person_ids[2]
    target = f"/registry/persons/{unenrolled}/enrol"
    period = str(world.period_id)
    first = client.post(target, data={**form_token(client), "period_id": period, "starts": "2024-09-01"})
    assert first.status_code == 303
    overlap = client.post(target, data={**form_token(client), "period_id": period, "starts": "2024-10-01"})
    assert overlap.status_code == 409
    assert "این فرد برای بخشی از این تاریخ‌ها پیش‌تر در این طرح ثبت‌نام شده است." in overlap.text
    assert "overlaps" not in overlap.text
    late = client.post(
        target, data={**form_token(client), "period_id": period, "starts": "2025-06-01", "ends": "2025-12-31"}
    )
    assert late.status_code == 422 and "ثبت‌نام نمی‌تواند پس از دورهٔ ثبت‌نام پایان یابد." in late.text
    assert len(session.scalars(select(Enrolment).where(Enrolment.person_id == unenrolled)).all()) == 1
