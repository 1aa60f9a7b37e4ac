"""The fund, payment, verification and report commands answer bad input with a message and a non-zero
exit, never a traceback; the fund commands post and show balances."""

from __future__ import annotations

from typer.testing import CliRunner

from equicover.cli import app


def test_commands_on_bad_input(cli_database: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["payments", "approve", "7", "--by", "nobody"])
    assert result.exit_code == 1 and "nobody" in result.output
    result = runner.invoke(
        app, ["funds", "receive", "--fund", "basic", "--source", "lottery", "--amount", "10", "--on", "2024-01-01"]
    )
    assert result.exit_code == 1 and "unknown account" in result.output
    result = runner.invoke(
        app, ["funds", "receive", "--fund", "basic", "--source", "donors", "--amount", "1.234", "--on", "2024-01-01"]
    )
    assert result.exit_code == 2 and "decimal places" in result.output
    result = runner.invoke(app, ["verify", "decide", "1", "reject", "--reason", "x"])
    assert result.exit_code == 1 and "unknown review" in result.output
    result = runner.invoke(app, ["report", "indicators", "--from", "2024-13-01", "--to", "2024-12-31"])
    assert result.exit_code == 2


def test_ledger_commands(cli_database: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["funds", "receive", "--fund", "basic", "--source", "donors", "--amount", "1000.50", "--on", "2024-01-05"]
    )
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(
        app, ["funds", "spend", "--fund", "basic", "--use", "transplants", "--amount", "200", "--on", "2024-02-01"]
    )
    assert ok.exit_code == 0, ok.output
    balances = runner.invoke(app, ["funds", "balances"])
    assert balances.exit_code == 0 and "800.50" in balances.output and "balanced" in balances.output
