"""`equicover web demo` refuses half an input cleanly (the full run is the browser tests' fixture)."""

from __future__ import annotations

from typer.testing import CliRunner

from equicover.cli import app


def test_a_missing_claims_file_is_refused_without_a_traceback(tmp_path) -> None:
    result = CliRunner().invoke(app, ["web", "demo", "--claims", str(tmp_path / "no-such-claims.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output
