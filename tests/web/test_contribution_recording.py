"""A registrar records a member's contribution on the household page, in the scheme's currency as
typed, then marks it paid, waived or due again; each step audited, every refusal said on its field
in the registrar's language, nothing written."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.enrolment.models import Contribution, Enrolment
from tests.api_helpers import form_token, login_as


def _contributions(session: Session, person_id: int) -> list[tuple[str, int, str, dt.date, dt.date, str | None]]:
    session.expire_all()
    return [
        (row.payer_kind, row.amount_minor, row.status, row.period_starts, row.period_ends, row.payer_name)
        for row in session.scalars(
            select(Contribution)
            .join(Enrolment, Enrolment.id == Contribution.enrolment_id)
            .where(Enrolment.person_id == person_id)
            .order_by(Contribution.id)
        )
    ]


def _enrolment_of(session: Session, person_id: int) -> int:
    return session.scalars(select(Enrolment.id).where(Enrolment.person_id == person_id)).one()


def _record_100(client, session: Session, member: int):
    """The member's own contribution of 100 dong to their enrolment, due, as the form sends it."""
    return client.post(
        f"/registry/persons/{member}/contributions",
        data={**form_token(client), "enrolment_id": str(_enrolment_of(session, member)), "payer_kind": "member",
              "amount": "100", "status": "due"},
    )  # fmt: skip


def test_a_contribution_recorded_then_paid_then_due_again(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", username="reg-pay", cookie=True)
    member = world.person_ids[0]
    enrolment = _enrolment_of(session, member)
    page = client.get("/registry/households/H1")
    assert f'data-testid="contribution-form-{member}"' in page.text
    assert f'data-testid="contribution-form-{world.person_ids[2]}"' not in page.text  # not enrolled: nothing to pay
    recorded = client.post(
        f"/registry/persons/{member}/contributions",
        data={**form_token(client), "enrolment_id": str(enrolment), "payer_kind": "member", "amount": "150,000",
              "status": "due", "payer_name": "", "period_starts": "", "period_ends": ""},
    )  # fmt: skip
    assert recorded.status_code == 303
    assert recorded.headers["location"] == "/registry/households/H1?changed=contribution-recorded"
    # VND has no minor unit: "150,000" is 150,000 dong; the period is the enrolment's whole period.
    assert _contributions(session, member) == [
        ("member", 150_000, "due", dt.date(2024, 7, 1), dt.date(2025, 6, 30), None)
    ]
    after = client.get(recorded.headers["location"])
    assert "Contribution recorded." in after.text and "150,000 VND" in after.text
    (contribution_id,) = session.scalars(select(Contribution.id)).all()
    for status, flash in (("paid", "Contribution marked paid."), ("due", "Contribution marked due again.")):
        changed = client.post(
            f"/registry/contributions/{contribution_id}/status", data={**form_token(client), "status": status}
        )
        assert changed.status_code == 303, changed.text[-500:]
        assert _contributions(session, member)[0][2] == status
        assert flash in client.get(changed.headers["location"]).text
    audit = session.scalars(select(ChangeLog).where(ChangeLog.entity == "contributions").order_by(ChangeLog.id)).all()
    assert [(row.action, row.actor) for row in audit] == [("create", "web:reg-pay"), ("update", "web:reg-pay")] + [
        ("update", "web:reg-pay")
    ]


def test_a_contribution_typed_in_french_and_refused_in_french(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", language="fr", cookie=True)
    member = world.person_ids[1]
    form = {
        **form_token(client),
        "enrolment_id": str(_enrolment_of(session, member)),
        "payer_kind": "state_budget",
        "amount": "1 234 567",
        "status": "paid",
        "period_starts": "2024-07-01",
        "period_ends": "2024-12-31",
    }
    refused = client.post(f"/registry/persons/{member}/contributions", data={**form, "amount": "12,5"})
    assert refused.status_code == 422 and "Le montant a plus de 0 décimales pour la monnaie." in refused.text
    assert client.post(f"/registry/persons/{member}/contributions", data=form).status_code == 303
    assert _contributions(session, member) == [
        ("state_budget", 1_234_567, "paid", dt.date(2024, 7, 1), dt.date(2024, 12, 31), None)
    ]


@pytest.mark.parametrize(
    ("changes", "status", "message", "field"),
    [
        ({"amount": " "}, 422, "Write the amount.", "amount"),
        ({"amount": "lots"}, 422, "The amount is not an amount.", "amount"),
        ({"amount": "-5"}, 422, "The amount must not be negative.", "amount"),
        ({"amount": "1e6"}, 422, "The amount is not an amount.", "amount"),
        ({"amount": "150000.5"}, 422, "The amount has more than 0 decimals for the currency.", "amount"),
        ({"amount": "9" * 20}, 422, "larger than any contribution can be (at most 1,000,000,000,000,000)", "amount"),
        ({"payer_kind": "king"}, 422, "Choose who pays.", "payer_kind"),
        ({"status": "maybe"}, 422, "Choose whether it is due, paid or waived.", "status"),
        ({"period_starts": "1 July"}, 422, "Dates are written YYYY-MM-DD.", "period_starts"),
        (
            {"period_ends": "2024-07-01", "period_starts": "2024-08-01"},
            422,
            "would end before it starts",
            "period_ends",
        ),
        ({"period_starts": "2024-01-01"}, 422, "not enrolled in this scheme for the whole period", "person_id"),
        ({"enrolment_id": "nope"}, 422, "Choose an enrolment.", "enrolment_id"),
        ({"enrolment_id": "99999999999"}, 422, "Choose an enrolment.", "enrolment_id"),
        ({"enrolment_id": "0"}, 422, "Choose an enrolment.", "enrolment_id"),
        ({"enrolment_id": "OTHER"}, 422, "Choose an enrolment.", "enrolment_id"),
    ],
)
def test_a_refused_contribution_says_why_on_its_field_and_writes_nothing(
    world_client, session: Session, changes, status, message, field
) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", cookie=True)
    member = world.person_ids[0]
    form = {"enrolment_id": str(_enrolment_of(session, member)), "payer_kind": "member", "amount": "150000",
            "status": "due", "period_starts": "", "period_ends": ""}  # fmt: skip
    if changes.get("enrolment_id") == "OTHER":  # another member's enrolment, of the same household
        changes = {"enrolment_id": str(_enrolment_of(session, world.person_ids[1]))}
    refused = client.post(f"/registry/persons/{member}/contributions", data={**form_token(client), **form, **changes})
    assert refused.status_code == status and message in re.sub(r"\s+", " ", refused.text), refused.text[-1500:]
    if field != "person_id":  # the service's refusal of the whole period is shown above the form
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text), field
    assert f'<details open data-testid="contribution-form-{member}"' in refused.text
    assert _contributions(session, member) == []


def test_an_unknown_status_or_contribution_is_refused(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", cookie=True)
    member = world.person_ids[0]
    _record_100(client, session, member)
    (contribution_id,) = session.scalars(select(Contribution.id)).all()
    odd = client.post(f"/registry/contributions/{contribution_id}/status", data={**form_token(client), "status": "x"})
    assert odd.status_code == 422 and "Choose whether it is due, paid or waived." in odd.text
    assert _contributions(session, member)[0][2] == "due"
    missing = client.post("/registry/contributions/999999/status", data={**form_token(client), "status": "paid"})
    assert missing.status_code == 404


def test_a_registrar_of_another_district_cannot_record_or_mark_a_contribution(world_client, session: Session) -> None:
    world, client = world_client
    member = world.person_ids[0]
    login_as(client, "registrar", area="D1", cookie=True)
    _record_100(client, session, member)
    (contribution_id,) = session.scalars(select(Contribution.id)).all()
    login_as(client, "registrar", area="D2", cookie=True)
    recorded = _record_100(client, session, member)
    marked = client.post(
        f"/registry/contributions/{contribution_id}/status", data={**form_token(client), "status": "paid"}
    )
    assert (recorded.status_code, marked.status_code) == (403, 403)
    assert _contributions(session, member) == [("member", 100, "due", dt.date(2024, 7, 1), dt.date(2025, 6, 30), None)]
