"""The password rule (ASVS 2.1): at least 12 characters, not a common or breached password
(the list shipped with the package, and the same wrapped in digits and symbols), not the username."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from equicover.admin.service import create_user
from equicover.auth.passwords import MIN_LENGTH, common_passwords, password_problem
from equicover.errors import ValidationFailed
from tests.api_helpers import login_as, make_client


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("nurse", "12345678", "at least 12"),
        ("nurse", "aaaaaaaa", "at least 12"),
        ("nurse", "short phrase", None),
        ("nurse", "aaaaaaaaaaaa", "too common"),
        ("nurse", "123456789012", "too common"),
        ("nurse", "qwertyuiopasdf", "too common"),
        ("nurse", "1qaz2wsx3edc", "too common"),
        ("nurse", "iloveyou2024", "too common"),
        ("nurse", "Password2024!", "too common"),
        ("nurse", "abcabcabcabc", "too common"),
        ("nurse", "baseball1234", "too common"),
        ("maria-lopez", "maria-lopez", "at least 12"),
        ("maria-lopez", "Maria-Lopez-2026", "username"),
        ("maria-lopez", "xx MARIA-LOPEZ xx", "username"),
        ("nurse", "a river crossing at dawn", None),
    ],
)
def test_the_rule_refuses_short_common_and_username_passwords(username: str, password: str, reason: str | None) -> None:
    problem = password_problem(username, password)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None and reason in problem and password not in problem


def test_the_shipped_list_holds_thousands_of_common_passwords() -> None:
    common = common_passwords()
    assert len(common) > 20_000
    assert {"password", "123456", "qwerty", "iloveyou", "dragon"} <= common
    assert MIN_LENGTH == 12


def test_accounts_cannot_be_created_with_a_weak_password(session) -> None:
    for weak in ("12345678", "aaaaaaaa", "short", "aaaaaaaaaaaaaaaa", "nurse-jones-1"):
        with pytest.raises(ValidationFailed) as refused:
            create_user(session=session, username="nurse-jones", password=weak, role="admin")
        assert refused.value.field == "password" and weak not in refused.value.message


def test_the_api_and_the_command_line_refuse_a_weak_password(session_factory, cli_database: str) -> None:
    client = make_client(session_factory=session_factory)
    admin = login_as(client, "admin")
    for weak in ("12345678", "password1234", "newclerk-password"):
        answer = client.post(
            "/api/v1/users", json={"username": "newclerk", "password": weak, "role": "admin"}, headers=admin
        )
        assert answer.status_code == 422 and weak not in answer.text
    from equicover.cli import app

    runner = CliRunner()
    refused = runner.invoke(app, ["users", "create", "--username", "root", "--role", "admin", "--password", "aaaaaaaa"])
    assert refused.exit_code == 1 and "at least 12" in refused.output and "Traceback" not in refused.output
    made = runner.invoke(app, ["users", "create", "--username", "root", "--role", "admin"])
    assert made.exit_code == 0 and "password:" in made.output
