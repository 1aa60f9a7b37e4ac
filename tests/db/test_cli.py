"""``equicover db upgrade`` / ``current`` and the coverage command, on a SQLite file."""

from __future__ import annotations

import datetime as dt

from typer import Typer
from typer.testing import CliRunner

from equicover.db.cli import db_app
from equicover.db.engine import make_engine
from equicover.db.migrate import current_revision, head_revision
from equicover.db.session import make_session_factory, session_scope
from equicover.enrolment.cli import coverage
from tests import factories as make

runner = CliRunner()


def test_db_upgrade_creates_the_schema_in_the_configured_database(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", url)
    result = runner.invoke(db_app, ["current"])
    assert result.exit_code == 0 and "revision none" in result.output
    result = runner.invoke(db_app, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert current_revision(url) == head_revision()
    assert "up to date" in runner.invoke(db_app, ["current"]).output


def test_coverage_command_prints_the_table(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cov.db'}"
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", url)
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        make.locations(
            session, tree=[("MA", "country", None), ("MA-01", "province", "MA"), ("MA-0101", "district", "MA-01")]
        )
        _, (first, _, _) = make.household(
            session,
            code="F1",
            location_code="MA-0101",
            members=[
                make.person_in(full_name="أمينة", sex="female", birth_date=dt.date(1970, 1, 1)),
                make.person_in(full_name="يوسف", sex="male", birth_date=dt.date(1972, 1, 1)),
                make.person_in(full_name="سلمى", sex="female", birth_date=dt.date(2001, 1, 1)),
            ],
            today=dt.date(2024, 1, 1),
        )
        ramed = make.scheme(session, code="RAMED", name="RAMED", currency="MAD")
        year = make.period(session, scheme_id=ramed.id, starts=dt.date(2024, 1, 1), ends=dt.date(2024, 12, 31))
        make.enrolment(
            session,
            person_id=first.id,
            scheme_id=ramed.id,
            period_id=year.id,
            starts=dt.date(2024, 1, 1),
            ends=dt.date(2024, 12, 31),
        )
    engine.dispose()

    app = Typer()
    app.command()(coverage)
    result = runner.invoke(
        app, ["--date", "2024-06-30", "--by", "district", "--scheme", "RAMED"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "MA-0101" in result.output and "33.33" in result.output  # 1 of 3
    assert "أمينة" not in result.output
    bad = runner.invoke(app, ["--date", "30/06/2024"])
    assert bad.exit_code == 2
    unknown = runner.invoke(app, ["--date", "2024-06-30", "--scheme", "NOPE"])
    assert unknown.exit_code == 1 and "scheme NOPE" in unknown.output


def test_serve_refuses_a_database_it_could_only_fail_on(tmp_path, monkeypatch) -> None:
    """Served from the wrong folder, on an empty database or on an older revision, every sign-in
    would answer 503: the command says why and what to run instead, and creates no empty file."""
    import sqlite3

    from equicover.api.cli import serve
    from equicover.db.migrate import upgrade

    app = Typer()
    app.command()(serve)
    missing = tmp_path / "elsewhere" / "equicover.db"
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    older = tmp_path / "older.db"
    upgrade(f"sqlite:///{older}", revision="0022")
    cases = (
        (missing, "no database file"),
        (empty, "holds no equicover tables"),
        (older, f"at revision 0022; this version needs {head_revision()}"),
    )
    for path, reason in cases:
        monkeypatch.setenv("EQUICOVER_DATABASE_URL", f"sqlite:///{path}")
        result = runner.invoke(app, ["--port", "1"])
        assert result.exit_code == 1, (path, result.output)
        assert reason in result.output and "equicover db upgrade" in result.output, result.output
    assert not missing.exists()
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = runner.invoke(app, ["--port", "1"])
    assert result.exit_code == 1 and "cannot connect to it" in result.output, result.output
