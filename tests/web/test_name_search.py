"""The window finds a patient by name in its own script or romanised, family name first, and says
honestly when there are more than it shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.orm import Session, sessionmaker

from equicover.registry.quality_models import PersonNameForms
from equicover.web import queries
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.factories import vn_world

NAMES = ("杨飞", "杨伟", "欧阳杨", "王芳", "Nguyễn Văn Yang")


def _clerk_client(session_factory: sessionmaker[Session], session: Session, names: tuple[str, ...]):
    """A clerk of the facility PA signed in, one household of the commune C11 holding these names."""
    vn_world(session)
    make.household(
        session,
        code="H9",
        location_code="C11",
        members=[
            make.person_in(full_name=name, sex="female", birth_date=dt.date(1970 + number, 1, 1))
            for number, name in enumerate(names)
        ],
    )
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "clerk", provider="PA", cookie=True)
    return client


@pytest.fixture
def search_client(session_factory: sessionmaker[Session], session: Session):
    return _clerk_client(session_factory, session, NAMES)


def _found(client, text: str) -> list[str]:
    page = client.get("/window", params={"q": text})
    if page.status_code == 303:  # one person: straight to the patient
        patient = client.get(page.headers["location"])
        return re.findall(r'<bdi class="name"[^>]*>([^<]+)</bdi>', patient.text)[:1]
    return re.findall(r'<bdi class="name"[^>]*>([^<]+)</bdi>', page.text)


@pytest.mark.parametrize("typed", ["杨飞", "Yang Fei", "yáng fēi", "yangfei", "YANG FEI"])
def test_a_chinese_name_is_found_however_it_is_written(search_client, typed: str) -> None:
    assert _found(search_client, typed)[0] == "杨飞"


def test_a_family_name_lists_its_bearers_first(search_client) -> None:
    found = _found(search_client, "杨")
    assert found[:2] == ["杨伟", "杨飞"]  # the family name 杨, in name order
    # 杨 (yang) elsewhere in a name comes after, in any script.
    assert set(found[2:]) == {"欧阳杨", "Nguyễn Văn Yang"}
    romanised = _found(search_client, "yang")
    assert romanised[:2] == ["杨伟", "杨飞"] and set(romanised[2:]) == {"欧阳杨", "Nguyễn Văn Yang"}


def test_names_keep_their_forms_when_registered(search_client, session: Session) -> None:
    forms = {row.romanised for row in session.query(PersonNameForms)}
    assert {"yang fei", "ou yang yang", "nguyen van yang"} <= forms


def test_more_persons_than_shown_is_said(search_client, monkeypatch) -> None:
    monkeypatch.setattr(queries, "SEARCH_LIMIT", 2)
    page = search_client.get("/window", params={"q": "yang"})
    assert "The first 2 persons found; write more of the name, or the ID, to find the others." in page.text
    assert len(re.findall(r'<bdi class="name"', page.text)) == 2
    exact = search_client.get("/window", params={"q": "杨"})
    assert "The first 2 persons found" in exact.text
