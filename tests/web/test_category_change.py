"""A registrar gives and ends a member's category on the household page, with the evidence, audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.registry.models import PersonCategory
from tests.api_helpers import form_token, login_as


def _holdings(session: Session, person_id: int) -> list[tuple[str, dt.date, dt.date | None, str | None]]:
    session.expire_all()
    return [
        (row.category, row.valid_from, row.valid_to, row.source)
        for row in session.scalars(
            select(PersonCategory).where(PersonCategory.person_id == person_id).order_by(PersonCategory.id)
        )
    ]


def test_a_category_given_with_its_evidence_shows_on_the_page_and_in_the_audit(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", username="reg-cat", cookie=True)
    girl = world.person_ids[2]
    page = client.get("/registry/households/H1")
    assert f'data-testid="category-change-{girl}"' in page.text
    given = client.post(
        f"/registry/persons/{girl}/categories",
        data={
            **form_token(client),
            "category": "registered_poor",
            "valid_from": "2024-09-01",
            "valid_to": "",
            "source": "commune poverty review 2024, decision 17",
        },
    )
    assert given.status_code == 303
    assert given.headers["location"] == "/registry/households/H1?on=2024-09-01&changed=given"
    assert _holdings(session, girl) == [
        ("registered_poor", dt.date(2024, 9, 1), None, "commune poverty review 2024, decision 17")
    ]
    after = client.get(given.headers["location"])
    assert "Category given." in after.text and "commune poverty review 2024, decision 17" in after.text
    audit = session.scalars(select(ChangeLog).where(ChangeLog.entity == "person_categories")).all()
    assert [row.actor for row in audit][-1] == "web:reg-cat"
    ended = client.post(
        f"/registry/persons/{girl}/categories/end",
        data={**form_token(client), "category": "registered_poor", "valid_to": "2024-12-31"},
    )
    assert ended.status_code == 303
    assert _holdings(session, girl)[0][2] == dt.date(2024, 12, 31)


@pytest.mark.parametrize(
    ("changes", "status", "message", "field"),
    [
        ({"source": " "}, 422, "Say what the change rests on", "source"),
        ({"valid_from": "1 Sept"}, 422, "Dates are written YYYY-MM-DD.", "valid_from"),
        ({"valid_to": "2024-01-01"}, 422, "The category would end before it starts.", "valid_to"),
        ({"category": "royalty"}, 422, "Choose a category.", "category"),
        ({"valid_from": "2024-10-01"}, 409, "already holds this category for part of these dates", "valid_from"),
    ],
)
def test_a_refused_change_says_why_on_its_field_and_writes_nothing(
    world_client, session: Session, changes, status, message, field
) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D1", cookie=True)
    poor = world.person_ids[0]  # holds registered_poor, open-ended
    before = _holdings(session, poor)
    form = {"category": "registered_poor", "valid_from": "2030-01-01", "valid_to": "", "source": "survey 2030"}
    refused = client.post(f"/registry/persons/{poor}/categories", data={**form_token(client), **form, **changes})
    assert refused.status_code == status and message in refused.text
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text)
    assert _holdings(session, poor) == before


def test_a_registrar_of_another_district_cannot_change_a_category(world_client, session: Session) -> None:
    world, client = world_client
    login_as(client, "registrar", area="D2", cookie=True)
    girl = world.person_ids[2]
    refused = client.post(
        f"/registry/persons/{girl}/categories",
        data={**form_token(client), "category": "registered_poor", "valid_from": "2024-09-01", "source": "x"},
    )
    assert refused.status_code == 403
    assert _holdings(session, girl) == []
