"""Funds of a scheme counted in whole riel: opened with the policy's digits, never the ISO
exponent's, by the service and by ``equicover funds`` with no ``--currency``."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from equicover.errors import Conflict
from equicover.ledger import service as ledger
from tests.riel_world import ALLOWANCES, BILL, riel_world, seed_database


def test_claims_post_into_riel_funds_in_whole_riel(session: Session) -> None:
    riel_world(session)
    ledger.post_claim_settlements(session=session, up_to=dt.date(2015, 12, 31), currency="KHR", minor_digits=0)
    hef = ledger.get_fund(session=session, code="hef")
    assert (hef.currency, hef.minor_digits) == ("KHR", 0)
    balances = {row.account: row.balance for row in ledger.balances(session=session, fund_code="hef")}
    assert balances == {"provider_payments": BILL, "payable": BILL}


def test_a_fund_refuses_the_same_currency_in_other_digits(session: Session) -> None:
    ledger.ensure_fund(session=session, code="hef", name="HEF", currency="KHR", minor_digits=0)
    with pytest.raises(Conflict) as refused:
        ledger.ensure_fund(session=session, code="hef", name="HEF", currency="KHR", minor_digits=2)
    assert (refused.value.field, refused.value.reason) == (
        "minor_digits",
        "the fund counts KHR in 0 minor digits, not 2",
    )


@pytest.fixture
def riel_database(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    seed_database(empty_db_url)
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", empty_db_url)
    return empty_db_url


def _run(*arguments: str):
    from equicover.cli import app

    return CliRunner().invoke(app, list(arguments))


def test_the_funds_commands_default_to_the_schemes_riel(riel_database: str) -> None:
    posted = _run("funds", "post-claims", "--up-to", "2015-12-31")
    assert posted.exit_code == 0, posted.output
    received = _run(
        "funds", "receive", "--fund", "hef", "--source", "donors", "--amount", "500000", "--on", "2015-01-05"
    )
    assert received.exit_code == 0, received.output
    balances = _run("funds", "balances", "--fund", "hef")
    assert balances.exit_code == 0, balances.output
    assert "150000" in balances.output and "500000" in balances.output
    assert "1500.00" not in balances.output and "5000.00" not in balances.output
    # Allowances (food and transport) are paid to the member from the allowance fund, also in riel.
    allowances = _run("funds", "balances", "--fund", "allowance")
    assert allowances.exit_code == 0 and str(ALLOWANCES) in allowances.output and ".00" not in allowances.output


def test_riel_amounts_with_sen_are_refused(riel_database: str) -> None:
    result = _run("funds", "receive", "--fund", "hef", "--source", "donors", "--amount", "10.50", "--on", "2015-01-05")
    assert result.exit_code == 2 and "more than 0 decimal places" in result.output


def test_a_currency_other_than_the_schemes_is_refused(riel_database: str) -> None:
    result = _run("funds", "post-claims", "--up-to", "2015-12-31", "--currency", "CNY")
    assert result.exit_code == 1 and "CNY is not the currency of the schemes (KHR)" in result.output
