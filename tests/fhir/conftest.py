"""Fixtures of the FHIR tests: the small Viet Nam world with one more household, and a client."""

from __future__ import annotations

import datetime as dt

import pytest

from tests import factories as make
from tests.api_helpers import make_client
from tests.factories import vn_world


@pytest.fixture
def world(session):
    """The small Viet Nam world (``tests.factories.vn_world``) and household H3 in C12: one woman
    with a VNeID number and her name in parts. Committed."""
    seeded = vn_world(session)
    make.household(
        session,
        code="H3",
        location_code="C12",
        members=[
            make.person_in(
                full_name="Nguyễn Thị Ba",
                family_name="Nguyễn",
                given_name="Thị Ba",
                name_script="Latn",
                sex="female",
                birth_date=dt.date(1970, 1, 1),
                national_id="001170000042",
                id_type="vneid",
            )
        ],
    )
    session.commit()
    return seeded


@pytest.fixture
def client(session_factory, world):
    return make_client(session_factory=session_factory)
