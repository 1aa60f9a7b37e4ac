"""The `equicover` command: one entry point, each domain contributes its own commands."""

from __future__ import annotations

import typer

from equicover.db.cli import db_app
from equicover.demo import demo
from equicover.enrolment.cli import coverage
from equicover.settlement.cli import contributions, policy_app, settle
from equicover.synth.cli import generate

app = typer.Typer(
    name="equicover",
    help="Health coverage for poor and vulnerable people: registry, enrolment, settlement.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(db_app, name="db", help="Database schema: migrate, show the current revision.")
app.add_typer(policy_app, name="policy", help="Policy files: validate, explain one claim.")
app.command(help="Generate a synthetic province: registry, enrolment and a year of claims.")(generate)
app.command(help="Coverage: enrolled / eligible population by area or category at a date.")(coverage)
app.command(help="Settle a file of claims with a policy: the payer cascade for each bill.")(settle)
app.command(help="Contributions of each member by payer, from a policy's contribution rules.")(
    contributions
)
app.command(help="Demo: generate a province, show coverage, settle its year of claims.")(demo)


if __name__ == "__main__":  # pragma: no cover
    app()
