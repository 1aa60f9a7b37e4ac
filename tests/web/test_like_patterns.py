"""Searches and filters match ``%`` and ``_`` literally: a ``%`` in a search finds only a ``%``
(registry search, window search, the claims list's category filter), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.api_helpers import login_as, make_client
from tests.factories import household, person_in, vn_claims_world


@pytest.fixture
def world_client(session_factory: sessionmaker[Session], session: Session):
    world = vn_claims_world(session)
    household(session, code="H9", location_code="C11", members=[person_in(full_name="Ma%ria Per_ez")])
    household(session, code="H8", location_code="C11", members=[person_in(full_name="Maxria Perxez")])
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return world, client


def _households(text: str) -> set[str]:
    return {code for code in ("H1", "H2", "H8", "H9") if f">{code}<" in text}


SEARCHES = [
    ("a%r", {"H9"}),  # the literal text
    ("%", {"H9"}),  # only the name that holds a %
    ("_", {"H9"}),
    ("r_e", {"H9"}),
    ("a_r", set()),  # "_" is not "any character": Ma%ria does not match, nor Maxria
    ("x", {"H8"}),
    ("member", {"H1"}),
]


def test_registry_search_matches_percent_and_underscore_literally(world_client) -> None:
    _, client = world_client
    login_as(client, "registrar", area="D1", cookie=True)
    for search, found in SEARCHES:
        page = client.get("/registry", params={"q": search})
        assert page.status_code == 200
        assert _households(page.text) == found, search


def test_window_search_matches_percent_literally(world_client) -> None:
    _, client = world_client
    login_as(client, "clerk", provider="PA", cookie=True)
    one = client.get("/window", params={"q": "%"})
    assert one.status_code == 303  # a single match opens the person
    none = client.get("/window", params={"q": "a_r"})
    assert none.status_code == 200 and "Ma%ria" not in none.text and "Maxria" not in none.text


def test_claims_category_filter_matches_underscore_and_percent_literally(world_client) -> None:
    _, client = world_client
    fund = login_as(client, "fund_manager")

    def total(category: str) -> int:
        answer = client.get("/api/v1/claims", params={"category": category}, headers=fund)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["total"])

    assert total("registered_poor") > 0
    assert total("registered%poor") == 0
    assert total("registered_poo_") == 0
    assert total("%") == 0
