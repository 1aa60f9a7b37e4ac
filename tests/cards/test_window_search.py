"""The window finds a card's holder by the card number typed; a lost card finds no one."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from equicover.admin.service import create_user
from equicover.cards import service
from equicover.web.queries import search_persons
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.cards.world import card_issued_today


def test_a_card_number_finds_its_holder_until_the_card_is_lost(session: Session) -> None:
    world = make.vn_world(session)
    today = dt.date.today()
    poor = world.person_ids[0]
    card = card_issued_today(session, world)
    clerk = create_user(
        session=session, username="window", password="correct horse battery", role="clerk", provider_code="PA"
    )
    typed = f"{card.number[:4]} {card.number[4:8]} {card.number[8:]}"
    assert [row.id for row in search_persons(session=session, user=clerk, text=typed)] == [poor]
    wrong = card.number[:-1] + str((int(card.number[-1]) + 1) % 10)
    assert search_persons(session=session, user=clerk, text=wrong) == []
    service.set_status(session=session, card=card, status="lost", on=today)
    assert search_persons(session=session, user=clerk, text=card.number) == []


def test_the_window_says_a_typed_card_is_lost(session_factory: sessionmaker[Session]) -> None:
    today = dt.date.today()
    with session_factory() as session:
        card = card_issued_today(session, make.vn_world(session))
        number = card.number
        service.set_status(session=session, card=card, status="lost", on=today)
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", cookie=True, language="vi")
    page = client.get("/window", params={"q": number})
    assert page.status_code == 200
    assert 'data-status="lost"' in page.text
    assert "Sổ đăng ký ghi thẻ này đã bị báo mất." in page.text
