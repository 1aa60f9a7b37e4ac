"""The commands of the financing report, the enrolment drive and the operator scorecards, on a
migrated SQLite file."""

from __future__ import annotations

import datetime as dt

from typer.testing import CliRunner

from equicover.cli import app
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory
from equicover.ledger import service as ledger
from equicover.organisations import service as organisations
from tests import factories as make


def _seed(url: str) -> None:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        geo = make.locations(session)
        scheme = make.scheme_year(session)
        make.enrolled_person(session, scheme=scheme, location_code="N21", starts=dt.date(2024, 8, 20))
        organisations.ensure_organisation(
            session=session, code="RED-CRESCENT", name="Red Crescent", role="responsible_organisation"
        )
        organisations.assign_areas(
            session=session,
            organisation_code="RED-CRESCENT",
            location_ids=[geo["N21"].id],
            assigned_on=dt.date(2024, 1, 1),
        )
        organisations.ensure_organisation(session=session, code="OP-D1", name="Operator D1", role="hef_operator")
        ledger.ensure_fund(session=session, code="ramed", name="RAMED", currency="MAD", minor_digits=2)
        for source, amount in (("social_cohesion_fund", 802_000_000_000), ("territorial_communities", 81_900_000_000)):
            ledger.record_contribution(
                session=session, fund_code="ramed", source=source, amount=amount, received_on=dt.date(2019, 6, 30)
            )
        session.commit()
    engine.dispose()


def test_the_commands_print_the_reports(cli_database: str) -> None:
    _seed(cli_database)
    runner = CliRunner()
    financing = runner.invoke(app, ["report", "financing", "--from", "2019-01-01", "--to", "2019-12-31"])
    assert financing.exit_code == 0, financing.output
    assert "social_cohesion_fund" in financing.output.replace(" ", "").replace("│\n│", "")
    assert "8020000000.00" in financing.output
    assert "90.7" in financing.output  # 8.02 bn of 8.839 bn
    drive = runner.invoke(
        app, ["organisations", "drive", "--from", "2024-07-01", "--to", "2024-08-31", "--by", "month"]
    )
    assert drive.exit_code == 0, drive.output
    assert "N21" in drive.output and "2024-08-31" in drive.output
    bad = runner.invoke(app, ["organisations", "drive", "--from", "2024-07-01", "--to", "2024-08-31", "--by", "day"])
    assert bad.exit_code != 0
    cards = runner.invoke(app, ["verify", "operator-scorecards", "--from", "2024-07-01", "--to", "2024-12-31"])
    assert cards.exit_code == 0, cards.output
    assert "OP-D1" in cards.output
