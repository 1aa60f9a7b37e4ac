"""A vulnerable member's card is suspended when their own contribution is unpaid past the grace
and active again once paid; a merge of duplicates cancels the duplicate's cards and leaves the
survivor with one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import equicover.tables  # noqa: F401  every table, as the equicover command loads them
from equicover.audit.models import ChangeLog
from equicover.cards import service
from equicover.cards.cli import cards_app
from equicover.cards.models import MemberCard
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory
from equicover.enrolment.service import set_contribution_status
from equicover.person_merge.service import merge_persons
from equicover.registry.service import set_category
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.cards.world import ISSUED_ON, card_issued_today, own_part_due

DUE_FROM = dt.date(2024, 7, 1)  # the period the contributions are for starts then (the scheme year)
GRACE = service.suspension_rules().grace_days


def _near_poor_owing(session: Session) -> tuple[make.World, MemberCard, MemberCard, int]:
    """Member Two (near-poor) owes his own part; Member One (registered poor) owes one too, but the
    poorest are never suspended for it; both hold a card."""
    world = make.vn_world(session)
    one, two = world.person_ids[:2]
    set_category(session=session, person_id=two, category="near_poor", valid_from=dt.date(2024, 1, 1))
    contributions = [own_part_due(session, world, person) for person in (one, two)]
    make.contribution(session, person_id=two, scheme_id=world.scheme_id, amount_minor=900_000)  # the budget's, paid
    cards = [service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=p) for p in (one, two)]
    return world, cards[0], cards[1], contributions[1].id


def test_the_card_is_suspended_the_day_after_the_grace_with_the_reason(session: Session) -> None:
    _, poorest, card, _ = _near_poor_owing(session)
    last_day = DUE_FROM + dt.timedelta(days=GRACE)
    assert service.suspend_unpaid(session=session, on=last_day).suspended == []
    run = service.suspend_unpaid(session=session, on=last_day + dt.timedelta(days=1), actor="nightly")
    assert run.suspended == [card.id]
    assert (card.status, card.status_reason) == ("suspended", f"unpaid_contribution: due since {DUE_FROM}")
    assert poorest.status == "issued"
    logged = session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "member_cards", ChangeLog.entity_id == card.id)
    ).all()
    assert logged[-1].actor == "nightly" and logged[-1].after is not None
    assert logged[-1].after["status"] == "suspended"
    # The register refuses a suspended card even with a good signature.
    text = service.payload_of(session=session, card=card)
    assert "suspended" in service.verify_payload(session=session, text=text, on=last_day).check.reason
    # Run again: nothing more happens.
    assert service.suspend_unpaid(session=session, on=last_day + dt.timedelta(days=2)) == service.SuspensionRun([], [])


def test_paid_since_the_card_is_active_again_but_not_one_suspended_for_another_reason(session: Session) -> None:
    world, poorest, card, owed = _near_poor_owing(session)
    late = DUE_FROM + dt.timedelta(days=GRACE + 10)
    service.suspend_unpaid(session=session, on=late)
    service.set_status(session=session, card=poorest, status="active", on=late)
    service.set_status(session=session, card=poorest, status="suspended", on=late, reason="fraud inquiry 12")
    set_contribution_status(session=session, contribution_id=owed, status="paid")
    run = service.suspend_unpaid(session=session, on=late + dt.timedelta(days=1))
    assert run == service.SuspensionRun([], [card.id])
    assert (card.status, card.status_reason) == ("active", None)
    assert (poorest.status, poorest.status_reason) == ("suspended", "fraud inquiry 12")


def test_the_command_suspends_and_says_how_many(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with make_session_factory(engine)() as session:
            _near_poor_owing(session)
            session.commit()
        late = DUE_FROM + dt.timedelta(days=GRACE + 1)
        result = CliRunner().invoke(
            cards_app, ["suspend-unpaid", "--on", late.isoformat(), "--database-url", empty_db_url]
        )
        assert result.exit_code == 0, result.output
        assert "1 card(s) suspended" in result.output and "0 reactivated" in result.output
        with make_session_factory(engine)() as session:
            statuses = sorted(session.scalars(select(MemberCard.status)))
        assert statuses == ["issued", "suspended"]
        refused = CliRunner().invoke(cards_app, ["suspend-unpaid", "--on", "tomorrow", "--database-url", empty_db_url])
        assert refused.exit_code != 0
    finally:
        engine.dispose()


def test_a_merge_cancels_the_duplicates_card_and_issues_the_survivor_one(session: Session) -> None:
    world = make.vn_world(session)
    duplicate = world.person_ids[0]
    survivor = make.person(session, full_name="Member One", location_code="C11", birth_date=dt.date(1980, 5, 1))
    make.enrolment(session, person_id=survivor.id, scheme_id=world.scheme_id, period_id=world.period_id)
    old = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=duplicate)
    merged_on = dt.date(2024, 8, 1)
    result = merge_persons(session=session, survivor_id=survivor.id, merged_id=duplicate, actor="reg", on=merged_on)
    assert result.cards_cancelled == [old.id]
    assert (old.status, old.status_reason) == ("cancelled", f"merged into person {survivor.id}")
    (new,) = session.scalars(select(MemberCard).where(MemberCard.id.in_(result.cards_issued))).all()
    assert (new.person_id, new.valid_from, new.status) == (survivor.id, merged_on, "issued")
    # The old card's QR code no longer passes at the counter.
    text = service.payload_of(session=session, card=old)
    assert service.verify_payload(session=session, text=text, on=merged_on).check.verdict == "invalid"
    actions = session.scalars(
        select(ChangeLog.action).where(ChangeLog.entity == "member_cards", ChangeLog.entity_id == old.id)
    ).all()
    assert actions[-1] == "cancel"


def test_a_survivor_with_a_card_keeps_it(session: Session) -> None:
    world = make.vn_world(session)
    duplicate, survivor = world.person_ids[0], world.person_ids[1]
    theirs = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=duplicate)
    kept = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=survivor)
    result = merge_persons(session=session, survivor_id=survivor, merged_id=duplicate, on=dt.date(2024, 8, 1))
    assert (result.cards_cancelled, result.cards_issued) == ([theirs.id], [])
    assert kept.status == "issued" and theirs.status == "cancelled"


@pytest.mark.parametrize(
    ("status", "reason", "shown", "said"),
    [
        (
            "suspended",
            f"{service.UNPAID}: due since 2024-07-01",
            "suspended_unpaid",
            "phần đóng góp của chính thành viên chưa được đóng",
        ),
        ("suspended", "fraud inquiry", "suspended", "Sổ đăng ký ghi thẻ này đang bị tạm ngừng."),
        ("cancelled", "merged into person 1", "cancelled", "hồ sơ của người giữ thẻ đã được gộp"),
    ],
)
def test_the_window_says_why_a_typed_card_is_out_of_use(
    session_factory: sessionmaker[Session], status: str, reason: str, shown: str, said: str
) -> None:
    with session_factory() as session:
        card = card_issued_today(session, make.vn_world(session))
        card.status, card.status_reason = status, reason
        number = card.number
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", cookie=True, language="vi")
    page = client.get("/window", params={"q": number})
    assert page.status_code == 200
    assert f'data-status="{shown}"' in page.text
    assert said in page.text
