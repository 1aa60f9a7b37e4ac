"""Policy files too large, too deep or with too long a number are refused with the file, the line
and the key, before the TOML parser (which recurses) sees them; by the loader, `policy check`
and `POST /api/v1/policies` (on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from equicover.settlement.cli import policy_app
from equicover.settlement.loader import PolicyError, load_policy, load_policy_text
from equicover.settlement.toml_lines import MAX_NESTING, MAX_POLICY_CHARS
from tests.api_helpers import login_as, make_client

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SHIPPED = (POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8")
LAST_LINE = SHIPPED.count("\n") + 1  # the line of anything appended after a newline


def _refusal(text: str) -> tuple[int, str, str]:
    started = time.perf_counter()
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, path="p.toml")
    assert time.perf_counter() - started < 1.0  # refused before any costly parsing
    (problem,) = refused.value.problems
    assert problem.file == "p.toml"
    return problem.line, problem.key, problem.message


def test_arrays_nested_50000_deep_are_refused_at_their_line() -> None:
    line, key, message = _refusal(SHIPPED + "x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert (line, key) == (LAST_LINE, "")
    assert message == f"arrays and tables are nested more than {MAX_NESTING} deep"


def test_inline_tables_nested_20000_deep_are_refused() -> None:
    line, _, message = _refusal(SHIPPED + "\n\n[deep]\nx = " + "{a = " * 20_000 + "1" + "}" * 20_000 + "\n")
    assert line == LAST_LINE + 3
    assert "nested more than" in message


def test_a_dotted_key_of_50000_parts_is_refused() -> None:
    line, _, message = _refusal(SHIPPED + "[deep]\n" + ".".join(["a"] * 50_000) + " = 1\n")
    assert line == LAST_LINE + 1
    assert message == f"a key has more than {MAX_NESTING + 1} dotted parts"


def test_tables_nested_deep_by_headers_and_dotted_keys_together_are_refused_with_their_key() -> None:
    header = ".".join(f"t{i}" for i in range(10))
    dotted = ".".join(f"k{i}" for i in range(10))
    line, key, message = _refusal(SHIPPED + f"[{header}]\n{dotted} = 1\n")
    assert line == LAST_LINE + 1
    assert key == ".".join([f"t{i}" for i in range(10)] + [f"k{i}" for i in range(7)])
    assert message == f"tables and arrays are nested more than {MAX_NESTING} deep"


def test_a_number_of_5000_digits_is_refused_at_its_line() -> None:
    line, _, message = _refusal(SHIPPED + "x = " + "9" * 5000 + "\n")
    assert line == LAST_LINE
    assert message == "a number has more than 18 digits"


def test_an_amount_of_5000_digits_is_refused_with_its_key() -> None:
    text = SHIPPED.replace('max_per_year = "14040000"', f'max_per_year = "{"9" * 5000}"', 1)
    assert text != SHIPPED
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, path="p.toml")
    (problem,) = refused.value.problems
    assert problem.key.endswith("max_per_year")
    assert problem.message == "money may have at most 18 digits"
    assert SHIPPED.splitlines()[problem.line - 1].startswith("max_per_year")


def test_a_file_over_256_kib_is_refused_but_long_strings_and_comments_within_it_are_text() -> None:
    line, key, message = _refusal(SHIPPED + "#" * MAX_POLICY_CHARS)
    assert (line, key) == (1, "")
    assert str(MAX_POLICY_CHARS) in message
    # Brackets, dots and digits inside strings and comments are not structure.
    fine = SHIPPED + "# [[[[[[[[[[[[[[[[[[[[ 12345678901234567890 a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s\n"
    assert load_policy_text(fine).id == load_policy_text(SHIPPED).id


def test_the_shipped_policies_are_within_the_limits() -> None:
    for path in sorted(POLICIES.glob("*.toml")):
        assert load_policy(path).id


def test_policy_check_reports_a_deep_file_with_its_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text(SHIPPED + "x = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    result = CliRunner().invoke(policy_app, ["check", str(deep)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{deep}:{LAST_LINE}: arrays and tables are nested more than {MAX_NESTING} deep" in result.output.replace(
        "\n", ""
    )


def test_policy_upload_refuses_a_deep_or_long_file_with_422(session_factory) -> None:
    client = make_client(session_factory=session_factory)
    admin = login_as(client, "admin")
    for text, expected in (
        (SHIPPED + "x = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested more than"),
        (SHIPPED + "x = " + "9" * 5000 + "\n", "more than 18 digits"),
    ):
        answer = client.post("/api/v1/policies", json={"scheme_code": "VN-SHI", "source_text": text}, headers=admin)
        assert answer.status_code == 422, answer.text
        assert expected in answer.json()["message"]
        assert f"uploaded policy:{LAST_LINE}:" in answer.json()["message"]
