"""Approval writes the categories set-based: the same holdings and change-log rows as granting them one
member at a time, a running holding ended the day before, the dead and merged left out, a clash refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.errors import Conflict
from equicover.registry.models import Person, PersonCategory
from equicover.registry.service import set_category
from equicover.targeting import service
from equicover.targeting.models import TargetingHousehold
from equicover.targeting.rules import NOT_IDENTIFIED, valid_until
from tests.targeting.helpers import write_csv
from tests.targeting.test_rounds import HEADER, _open, _row

APPROVED = dt.date(2024, 3, 4)


def _to_notice(session: Session, users: dict, tmp_path: Path) -> int:
    round_ = _open(session, users["district"])
    rows = [
        _row("HA", "V1", members=2, income_month="3000000", deprived=3),  # poor
        _row("HB", "V1", members=1, income_month="1200000", deprived=1),  # near-poor
        _row("HC", "V2", members=1, income_month="9000000", deprived=0),  # not poor
    ]
    path = write_csv(tmp_path / "answers.csv", HEADER, rows)
    assert not service.import_answers(session=session, round_id=round_.id, path=path, user=users["district"]).rejections
    service.score_round(session=session, round_id=round_.id, user=users["district"])
    service.publish_notice(session=session, round_id=round_.id, on=dt.date(2024, 3, 1), user=users["district"])
    return round_.id


def _state(session: Session, since: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    holdings = sorted(
        (row.person_id, row.category, row.valid_from, row.valid_to, row.source)
        for row in session.scalars(select(PersonCategory))
    )
    changes = sorted(
        (row.action, row.actor, repr(sorted((row.before or {}).items())), repr(sorted((row.after or {}).items())))
        for row in session.scalars(
            select(ChangeLog).where(ChangeLog.entity == "person_categories", ChangeLog.id > since)
        )
    )
    return holdings, changes


def test_set_based_approval_equals_granting_member_by_member(session: Session, commune: dict, tmp_path: Path) -> None:
    users, homes = commune["users"], commune["homes"]
    first, second = homes["HA"][1]
    # HA's first member holds the poor category since last year, open-ended: replaced from the approval
    set_category(session=session, person_id=first.id, category="registered_poor", valid_from=dt.date(2023, 1, 1))
    # HA's second member died before the approval: no category
    session.get(Person, second.id).death_date = dt.date(2024, 1, 10)
    round_id = _to_notice(session, users, tmp_path)
    session.flush()
    since = session.scalar(select(ChangeLog.id).order_by(ChangeLog.id.desc()).limit(1)) or 0

    savepoint = session.begin_nested()
    result = service.approve_round(session=session, round_id=round_id, on=APPROVED, user=users["commune"])
    set_based = _state(session, since)
    savepoint.rollback()

    # The same decision, one member and category at a time through the registry's single-row functions.
    round_ = service.get_round(session=session, round_id=round_id)
    rules = service.rules_of(round_)
    source = f"targeting round {round_id} ({rules.id})"
    written = 0
    for entry in session.scalars(select(TargetingHousehold).where(TargetingHousehold.round_id == round_id)):
        final = entry.final or NOT_IDENTIFIED
        for person_id in service._members(session, entry.household_id, APPROVED):
            for category in rules.grants_of(final):
                service._grant(
                    session,
                    person_id=person_id,
                    category=category,
                    valid_from=APPROVED,
                    valid_to=valid_until(rules, final, APPROVED),
                    source=source,
                    actor=users["commune"].username,
                )
                written += 1
    session.flush()
    one_by_one = _state(session, since)

    assert set_based == one_by_one
    assert result.categories_written == written == 2  # HA's living member and HB's; HC is not poor
    holdings, changes = set_based
    assert (first.id, "registered_poor", dt.date(2023, 1, 1), dt.date(2024, 3, 3), None) in holdings
    assert not [row for row in holdings if row[0] == second.id]
    assert sorted(action for action, *_ in changes) == ["create", "create", "end"]


def test_a_member_holding_the_category_from_within_the_period_refuses_the_approval(
    session: Session, commune: dict, tmp_path: Path
) -> None:
    users, homes = commune["users"], commune["homes"]
    member = homes["HB"][1][0]
    set_category(session=session, person_id=member.id, category="near_poor", valid_from=dt.date(2024, 6, 1))
    round_id = _to_notice(session, users, tmp_path)
    with pytest.raises(Conflict, match=r"holds near_poor from 2024-06-01 already") as refused:
        service.approve_round(session=session, round_id=round_id, on=APPROVED, user=users["commune"])
    assert refused.value.record == f"person {member.id}"
