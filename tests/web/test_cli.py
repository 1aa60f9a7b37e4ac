"""`equicover web demo` refuses half an input cleanly (the full run is the browser tests' fixture)."""

from __future__ import annotations

from typer.testing import CliRunner

from equicover.cli import app


def test_claims_without_settlements_is_refused_without_a_traceback() -> None:
    result = CliRunner().invoke(app, ["web", "demo", "--claims", "claims.csv"])
    assert result.exit_code == 2
    assert "--claims and --settlements go together" in result.output
    assert "Traceback" not in result.output
