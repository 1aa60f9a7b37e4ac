"""The `equicover` command mounts every domain's commands."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from equicover.cli import app

COMMANDS = [
    ("db", "upgrade"),
    ("policy", "check"),
    ("policy", "load"),
    ("users", "create"),
    ("import", "persons"),
    ("dedupe", "run"),
    ("dedupe", "merge"),
    ("link", "ids"),
    ("funds", "balances"),
    ("verify", "sample"),
    ("anomaly", "run"),
    ("payments", "draft"),
    ("care", "summary"),
    ("cards", "issue"),
    ("report", "semiannual"),
    ("web", "demo"),
]
TOP_LEVEL = ["generate", "coverage", "settle", "contributions", "serve", "demo", "load-claims"]


@pytest.mark.parametrize(("group", "command"), COMMANDS)
def test_every_command_group_is_mounted(group: str, command: str) -> None:
    answer = CliRunner().invoke(app, [group, command, "--help"])
    assert answer.exit_code == 0, answer.output
    assert "Usage:" in answer.output


@pytest.mark.parametrize("command", TOP_LEVEL)
def test_every_top_level_command_is_mounted(command: str) -> None:
    answer = CliRunner().invoke(app, [command, "--help"])
    assert answer.exit_code == 0, answer.output


def test_an_unknown_command_is_refused() -> None:
    assert CliRunner().invoke(app, ["no-such-command"]).exit_code != 0
