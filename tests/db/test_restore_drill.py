"""The restore drill: a backup restored into a new database gives back every row, and a changed row is caught."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory
from equicover.ledger import service as ledger
from tests import factories as make

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "restore_drill.py"


def _drill_module():
    spec = importlib.util.spec_from_file_location("restore_drill", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["restore_drill"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def populated_url(empty_db_url: str) -> str:
    """A migrated database holding claims, their payments and accumulators, and ledger entries."""
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    try:
        with make_session_factory(engine)() as session:
            make.vn_claims_world(session)
            ledger.post_claim_settlements(
                session=session, up_to=dt.date(2024, 12, 31), currency="VND", minor_digits=0, actor="test"
            )
            session.commit()
    finally:
        engine.dispose()
    return empty_db_url


def test_every_claim_payment_accumulator_and_ledger_row_comes_back(populated_url: str) -> None:
    drill = _drill_module()
    result = drill.run_drill(populated_url)
    rows = {check.table: check.rows for check in result.checks}
    assert rows["claims"] == 9
    assert rows["claim_payments"] > 0 and rows["accumulators"] > 0 and rows["ledger_entries"] > 0
    assert result.whole, drill.report(result)
    assert "every table came back whole" in drill.report(result)


def test_a_changed_amount_changes_the_tables_checksum(populated_url: str) -> None:
    drill = _drill_module()
    before = {check.table: check.checksum for check in drill.run_drill(populated_url).checks}
    engine = make_engine(populated_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE accumulators SET paid = paid + 1 WHERE paid = (SELECT max(paid) FROM accumulators)")
            )
    finally:
        engine.dispose()
    after = {check.table: check.checksum for check in drill.run_drill(populated_url).checks}
    assert after["accumulators"] != before["accumulators"]
    assert after["claims"] == before["claims"]


def test_the_command_exits_0_and_prints_the_tables(populated_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    drill = _drill_module()
    assert drill.main(["--source", populated_url]) == 0
    printed = capsys.readouterr().out
    assert "claims" in printed and "every table came back whole" in printed


def test_a_missing_database_is_reported_not_crashed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drill = _drill_module()
    assert drill.main(["--source", f"sqlite:///{tmp_path / 'absent.db'}"]) == 2
    assert "could not run" in capsys.readouterr().err
