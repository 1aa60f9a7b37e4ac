"""`equicover targeting round ...`: a round run from the command line, in an account's name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from equicover.auth.service import create_account
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory
from equicover.registry.models import Location, PersonCategory
from equicover.targeting.cli import targeting_app
from tests import factories as make
from tests.targeting.helpers import CN, write_csv

HEADER = ["household", "members", "net_income_year", "food_clothing", "education", "medical", "housing"]


def test_a_round_from_the_command_line(cli_database: str, tmp_path: Path) -> None:
    engine = make_engine(cli_database)
    factory = make_session_factory(engine)
    with factory() as session:
        make.locations(session)
        _, members = make.household(session, code="HA", location_code="C11")
        make.household(session, code="HB", location_code="C11")
        d1 = session.scalar(select(Location.id).where(Location.code == "D1"))
        create_account(
            session=session, username="county", password="correct horse battery", role="registrar", location_id=d1
        )
        session.commit()
    runner = CliRunner()
    opened = runner.invoke(
        targeting_app,
        [
            "round",
            "open",
            "--rules",
            str(CN),
            "--area",
            "C11",
            "--from",
            "2017-03-01",
            "--to",
            "2017-03-20",
            "--user",
            "county",
        ],
    )
    assert opened.exit_code == 0, opened.output
    assert "Opened round 1" in opened.output
    answers = write_csv(
        tmp_path / "answers.csv",
        HEADER,
        [
            ["HA", "4", "12000.00", "yes", "yes", "yes", "yes"],  # 3,000 per person: below the line
            ["HB", "4", "12000.00", "yes", "maybe", "yes", "yes"],
        ],
    )
    imported = runner.invoke(targeting_app, ["round", "import", "1", str(answers), "--user", "county"])
    assert imported.exit_code == 1, imported.output
    assert "imported 1" in imported.output
    assert '3,HB,education,"answer outside the options (yes, no)"' in (tmp_path / "answers.errors.csv").read_text(
        encoding="utf-8"
    )
    scored = runner.invoke(targeting_app, ["round", "score", "1", "--user", "county"])
    assert scored.exit_code == 0 and "registered_poor 1" in scored.output
    listed = runner.invoke(targeting_app, ["round", "list", "1"])
    assert (
        "HA  registered_poor  registered_poor  registered_poor: income per person 3000.00 below national 3335.00"
        in listed.output
    )
    notice = runner.invoke(
        targeting_app,
        ["round", "notice", "1", "--on", "2017-04-01", "--user", "county", "--out", str(tmp_path / "notice.txt")],
    )
    assert notice.exit_code == 0 and "notice from 2017-04-01 to 2017-04-07" in notice.output
    assert "HA  Registered poor household" in (tmp_path / "notice.txt").read_text(encoding="utf-8")
    early = runner.invoke(targeting_app, ["round", "approve", "1", "--on", "2017-04-07", "--user", "county"])
    assert early.exit_code == 1 and "the notice runs until 2017-04-07" in early.output
    approved = runner.invoke(targeting_app, ["round", "approve", "1", "--on", "2017-04-08", "--user", "county"])
    assert approved.exit_code == 0, approved.output
    with factory() as session:
        held = session.scalars(select(PersonCategory)).all()
        assert [(row.category, row.valid_from, row.valid_to) for row in held] == [
            ("registered_poor", dt.date(2017, 4, 8), dt.date(2018, 4, 7))
        ]
        assert {row.person_id for row in held} == {member.id for member in members}
    engine.dispose()
