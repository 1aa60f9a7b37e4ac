"""Fixtures shared by the web pages' tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.api_helpers import make_client
from tests.factories import vn_world


@pytest.fixture
def world_client(session_factory: sessionmaker[Session], session: Session):
    """:func:`vn_world`, committed, and a client of the application on it that does not follow
    redirects (a test reads where a form sends the user)."""
    world = vn_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return world, client
