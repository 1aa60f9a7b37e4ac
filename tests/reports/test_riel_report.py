"""The semi-annual report of a scheme counted in whole riel: its XLSX cells are whole riel, and
``equicover report semiannual`` takes the scheme's currency when none is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.riel_world import BILL, CHECKER, MAKER, seed_database


@pytest.fixture
def riel_database(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    seed_database(empty_db_url)
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", empty_db_url)
    return empty_db_url


def _run(*arguments: str):
    from equicover.cli import app

    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, result.output
    return result


def test_the_semiannual_xlsx_holds_whole_riel(riel_database: str, tmp_path: Path) -> None:
    _run("funds", "post-claims", "--up-to", "2015-06-30")
    _run("payments", "draft", "--from", "2015-03-01", "--to", "2015-03-31", "--maker", MAKER, "--provider", "RH")
    _run("payments", "approve", "--all-drafts", "--by", CHECKER, "--on", "2015-04-10")
    _run("report", "semiannual", "--year", "2015", "--half", "1", "--out", str(tmp_path))
    book = load_workbook(tmp_path / "semiannual-2015-H1.xlsx")
    payments = {row[0]: row[1] for row in book["Payments"].iter_rows(min_row=2, values_only=True)}
    assert payments["approved_amount"] == str(BILL)
    funds = list(book["Funds"].iter_rows(values_only=True))
    assert funds[0][2] == "Flow in the half (KHR)"
    hef = {row[1]: (row[2], row[3]) for row in funds[1:] if row[0] == "hef"}
    assert hef["provider_payments"] == (str(BILL), str(BILL))
    assert hef["cash"] == (str(-BILL), str(-BILL))
    assert hef["payable"] == ("0", "0")
