"""Commune-level approving accounts: the administrator creates an account whose area is a commune (REST,
command line, service); it approves the on-demand identifications of its commune, and only those."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from equicover.admin.service import create_user
from equicover.auth.models import User
from equicover.cli import app
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory
from equicover.errors import Forbidden
from equicover.registry.models import Location
from equicover.targeting import service
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.targeting.helpers import VN, vn_answers

PASSWORD = "correct horse battery"


def _on_demand(session: Session, household: str, area: str, user: User) -> int:
    """An on-demand identification of one poor household of ``area``, scored and posted."""
    round_ = service.open_round(
        session=session,
        rules_text=VN.read_text(encoding="utf-8"),
        area_code=area,
        starts_on=dt.date(2024, 6, 3),
        ends_on=dt.date(2024, 6, 3),
        user=user,
        kind="on_demand",
    )
    service.capture_answers(
        session=session,
        round_id=round_.id,
        household_code=household,
        area_type="rural",
        answers=vn_answers(members=1, income_month="900000", deprived=4),
        user=user,
    )
    service.score_round(session=session, round_id=round_.id, user=user)
    service.publish_notice(session=session, round_id=round_.id, on=dt.date(2024, 6, 4), user=user)
    return round_.id


def test_a_commune_account_approves_the_on_demand_cases_of_its_commune_only(session_factory) -> None:
    with session_factory() as session:
        make.locations(session)
        make.household(session, code="HA", location_code="C11")
        make.household(session, code="HB", location_code="C12")
        session.commit()
    client = make_client(session_factory=session_factory)
    admin = login_as(client, "admin")
    created = client.post(
        "/api/v1/users",
        json={"username": "chair-c11", "password": PASSWORD, "role": "registrar", "area": "C11"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    listed = {item["username"]: item for item in client.get("/api/v1/users", headers=admin).json()["items"]}
    assert listed["chair-c11"]["area"] == "C11"

    with session_factory() as session:
        chair = session.scalar(select(User).where(User.username == "chair-c11"))
        commune = session.scalar(select(Location).where(Location.code == "C11"))
        assert chair.location_id == commune.id
        district = create_user(
            session=session, username="reg-d1", password=PASSWORD, role="registrar", area_code="D1", actor="test"
        )
        own = _on_demand(session, "HA", "C11", chair)  # the commune's account also records the steps
        other = _on_demand(session, "HB", "C12", district)
        with pytest.raises(Forbidden, match="the round's area is outside yours"):
            service.approve_round(session=session, round_id=other, on=dt.date(2024, 6, 7), user=chair)
        with pytest.raises(Forbidden, match="approval is by the commune, your area is a district"):
            service.approve_round(session=session, round_id=own, on=dt.date(2024, 6, 7), user=district)
        result = service.approve_round(session=session, round_id=own, on=dt.date(2024, 6, 7), user=chair)
        assert result.categories_written == 1
        with pytest.raises(Forbidden, match="outside your area"):
            _on_demand(session, "HB", "C12", chair)  # nor does it record steps in another commune


def test_the_command_line_creates_a_commune_account(cli_database: str) -> None:
    engine = make_engine(cli_database)
    with make_session_factory(engine)() as session:
        make.locations(session)
        session.commit()
    result = CliRunner().invoke(
        app, ["users", "create", "--username", "chair-c12", "--role", "registrar", "--area", "C12"]
    )
    assert result.exit_code == 0, result.output
    with make_session_factory(engine)() as session:
        chair = session.scalar(select(User).where(User.username == "chair-c12"))
        assert session.get(Location, chair.location_id).code == "C12"
    unknown = CliRunner().invoke(app, ["users", "create", "--username", "x", "--role", "registrar", "--area", "C99"])
    assert unknown.exit_code == 1 and "unknown location" in unknown.output
    engine.dispose()
