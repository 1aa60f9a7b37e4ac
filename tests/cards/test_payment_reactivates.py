"""Recording a contribution's payment re-checks the member's cards in the same transaction: a card
suspended for that unpaid contribution is active again at once, over HTTP and from the command
line, without waiting for ``equicover cards suspend-unpaid``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

import equicover.tables  # noqa: F401  every table, as the equicover command loads them
from equicover.cards import service
from equicover.cards.cli import cards_app
from equicover.cards.models import MemberCard
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory
from equicover.enrolment.models import Contribution
from equicover.registry.service import set_category
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.cards.world import ISSUED_ON, own_part_due

DUE_FROM = dt.date(2024, 7, 1)
LATE = DUE_FROM + dt.timedelta(days=service.suspension_rules().grace_days + 10)


def _owing_and_suspended(session: Session) -> tuple[make.World, MemberCard, MemberCard, int, int]:
    """Member Two (near-poor) and the man of H2 (near-poor) each owe their own part past the grace;
    both cards are suspended by the nightly run. Returns the world, both cards and both
    contribution ids."""
    world = make.vn_world(session)
    two, other = world.person_ids[1], world.other_person_id
    owed = []
    for person in (two, other):
        set_category(session=session, person_id=person, category="near_poor", valid_from=dt.date(2024, 1, 1))
        owed.append(own_part_due(session, world, person).id)
    cards = [service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=p) for p in (two, other)]
    run = service.suspend_unpaid(session=session, on=LATE, actor="nightly")
    assert sorted(run.suspended) == sorted(card.id for card in cards)
    return world, cards[0], cards[1], owed[0], owed[1]


def test_a_run_for_one_member_touches_only_that_members_cards(session: Session) -> None:
    _, card, other_card, owed, other_owed = _owing_and_suspended(session)
    for contribution_id in (owed, other_owed):
        session.get(Contribution, contribution_id).status = "paid"  # type: ignore[union-attr]
    session.flush()
    run = service.suspend_unpaid(session=session, on=LATE, actor="registrar", person_id=card.person_id)
    assert run == service.SuspensionRun([], [card.id])
    assert (card.status, card.status_reason) == ("active", None)
    assert other_card.status == "suspended"  # paid too, but another member: the nightly run's


def test_a_run_for_one_member_suspends_when_still_owing(session: Session) -> None:
    world, card, _, _, _ = _owing_and_suspended(session)
    service.set_status(session=session, card=card, status="active", on=LATE)
    run = service.suspend_unpaid(session=session, on=LATE, person_id=card.person_id)
    assert run.suspended == [card.id] and card.status == "suspended"
    assert world.scheme_id == card.scheme_id


def test_paying_over_http_reactivates_the_card_in_the_same_request(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        _, card, other_card, owed, _ = _owing_and_suspended(session)
        card_id, other_id, person_id = card.id, other_card.id, card.person_id
        session.commit()
    client = make_client(session_factory=session_factory)
    client.app.state.clock = lambda: dt.datetime(LATE.year, LATE.month, LATE.day, 9, tzinfo=dt.UTC)
    headers = login_as(client, "registrar", area="LC")

    paid = client.put(f"/api/v1/contributions/{owed}/status", json={"status": "paid"}, headers=headers)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    with session_factory() as session:
        assert session.get(MemberCard, card_id).status == "active"  # type: ignore[union-attr]
        assert session.get(MemberCard, other_id).status == "suspended"  # type: ignore[union-attr]

    # A mistaken payment undone: the card is suspended again, with its reason.
    undone = client.put(f"/api/v1/contributions/{owed}/status", json={"status": "due"}, headers=headers)
    assert undone.status_code == 200
    with session_factory() as session:
        again = session.get(MemberCard, card_id)
        assert again is not None and again.status == "suspended"
        assert (again.status_reason or "").startswith(service.UNPAID)
        assert again.person_id == person_id

    refused = client.put("/api/v1/contributions/999999/status", json={"status": "paid"}, headers=headers)
    assert refused.status_code == 404
    assert refused.json()["field"] == "contribution_id"
    wrong = client.put(f"/api/v1/contributions/{owed}/status", json={"status": "settled"}, headers=headers)
    assert wrong.status_code == 422
    clerk = login_as(client, "clerk", provider="PA")
    assert client.put(f"/api/v1/contributions/{owed}/status", json={"status": "paid"}, headers=clerk).status_code == 403


def test_recording_an_overdue_contribution_over_http_suspends_at_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        world = make.vn_world(session)
        two = world.person_ids[1]
        set_category(session=session, person_id=two, category="near_poor", valid_from=dt.date(2024, 1, 1))
        card = service.issue_card(session=session, scheme_code="VN-SHI", on=ISSUED_ON, person_id=two)
        card_id = card.id
        session.commit()
    client = make_client(session_factory=session_factory)
    client.app.state.clock = lambda: dt.datetime(LATE.year, LATE.month, LATE.day, 9, tzinfo=dt.UTC)
    headers = login_as(client, "registrar", area="LC")
    body = {
        "person_id": two,
        "scheme_code": "VN-SHI",
        "payer_kind": "member",
        "amount_minor": 300_000,
        "status": "due",
        "period_starts": DUE_FROM.isoformat(),
        "period_ends": "2025-06-30",
    }
    recorded = client.post("/api/v1/contributions", json=body, headers=headers)
    assert recorded.status_code == 201, recorded.text
    with session_factory() as session:
        assert session.get(MemberCard, card_id).status == "suspended"  # type: ignore[union-attr]
    # Paid the same day as a new, paid record of the member's part: the due one still stands.
    paid = client.put(f"/api/v1/contributions/{recorded.json()['id']}/status", json={"status": "paid"}, headers=headers)
    assert paid.status_code == 200
    with session_factory() as session:
        assert session.get(MemberCard, card_id).status == "active"  # type: ignore[union-attr]


def test_the_command_records_the_payment_and_reactivates(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with make_session_factory(engine)() as session:
            _, card, other_card, owed, _ = _owing_and_suspended(session)
            card_id, other_id = card.id, other_card.id
            session.commit()
        result = CliRunner().invoke(
            cards_app,
            ["contribution-paid", str(owed), "--on", LATE.isoformat(), "--actor", "cashier",
             "--database-url", empty_db_url],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert f"contribution {owed}: paid; 1 card(s) reactivated, 0 suspended" in result.output
        with make_session_factory(engine)() as session:
            assert session.get(Contribution, owed).status == "paid"  # type: ignore[union-attr]
            statuses = dict(session.execute(select(MemberCard.id, MemberCard.status)).all())
        assert statuses == {card_id: "active", other_id: "suspended"}
        unknown = CliRunner().invoke(
            cards_app, ["contribution-paid", "999999", "--on", LATE.isoformat(), "--database-url", empty_db_url]
        )
        assert unknown.exit_code == 1 and "unknown contribution" in unknown.output
        wrong = CliRunner().invoke(
            cards_app,
            ["contribution-paid", str(owed), "--status", "settled", "--database-url", empty_db_url],
        )
        assert wrong.exit_code == 1 and "status" in wrong.output
    finally:
        engine.dispose()
