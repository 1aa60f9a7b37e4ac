"""The window's card check page: served to the window's roles, with its scripts from the application."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests import factories as make
from tests.api_helpers import login_as, make_client


def test_the_card_check_page_lists_the_schemes_whose_keys_it_keeps(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        make.vn_world(session)
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", cookie=True)
    page = client.get("/window/scan")
    assert page.status_code == 200
    assert 'data-schemes="VN-SHI"' in page.text
    assert '<script src="/static/vendor/jsQR-1.4.0.js" defer></script>' in page.text
    assert client.get("/static/card_scan.js").status_code == 200
    assert client.get("/static/vendor/jsQR-1.4.0.js").status_code == 200
    assert 'href="/window/scan"' in client.get("/window").text


def test_the_card_check_page_speaks_the_clerks_language(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        make.vn_world(session)
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", cookie=True, language="fr")
    page = client.get("/window/scan")
    assert "Vérifier une carte de membre" in page.text
    assert "valide jusqu’au {date}." in page.text  # the date is the script's to fill in


def test_a_verifier_does_not_check_cards_at_the_window(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        make.vn_world(session)
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "verifier", area="D1", cookie=True)
    assert client.get("/window/scan", follow_redirects=False).status_code in (403, 303)
