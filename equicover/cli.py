"""The `equicover` command: one entry point that mounts each domain's commands."""

from __future__ import annotations

import typer

import equicover.tables  # noqa: F401  every table, whichever command's service runs first
from equicover.admin.cli import users_app
from equicover.anomaly.cli import anomaly_app
from equicover.api.cli import serve
from equicover.cards.cli import cards_app
from equicover.care.cli import care_app
from equicover.claims.cli import load_claims, policy_load, policy_versions
from equicover.db.cli import db_app
from equicover.demo.province import demo
from equicover.enrolment.cli import coverage
from equicover.ledger.cli import funds_app
from equicover.organisations.cli import organisations_app
from equicover.payments.cli import payments_app
from equicover.payments.reconcile_cli import reconcile
from equicover.person_merge.cli import dedupe_merge
from equicover.registry.cli import dedupe_app, import_app, link_app
from equicover.reports.cli import report_app
from equicover.settlement.cli import contributions, policy_app, settle
from equicover.simulation.cli import policy_diff, project, simulate
from equicover.synth.cli import generate
from equicover.targeting.cli import targeting_app
from equicover.verification.cli import verify_app
from equicover.web.cli import web_app

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
app.command(help="Contributions of each member by payer, from a policy's contribution rules.")(contributions)
app.command(help="What if: settle one year of claims under several policies and compare.")(simulate)
app.command(help="Budget projection: contributions, expected payments and each fund's gap by year.")(project)
policy_app.command("load", help="Store a policy file as a version for a scheme (database).")(policy_load)
policy_app.command("versions", help="List the stored policy versions.")(policy_versions)
policy_app.command("diff", help="What changed between two policy files, in words.")(policy_diff)
app.add_typer(users_app, name="users", help="Accounts of the HTTP service: create users.")
app.command(help="Serve the HTTP API with uvicorn (OpenAPI at /docs).")(serve)
app.add_typer(import_app, name="import", help="Import lists from other agencies (persons from CSV/XLSX).")
dedupe_app.command("merge", help="Merge confirmed and automatically accepted pairs into surviving records.")(
    dedupe_merge
)
app.add_typer(dedupe_app, name="dedupe", help="Find, review and merge duplicate persons (Splink).")
app.add_typer(link_app, name="link", help="Link persons to a national ID register.")
app.command(help="Demo: a whole province end to end, then serve the application.")(demo)
app.command(
    "load-claims", help="Settle and store a file of claims in bulk (contracts enforced, accumulators written)."
)(load_claims)
app.add_typer(funds_app, name="funds", help="Fund ledger: post, balances, monthly flows.")
app.add_typer(verify_app, name="verify", help="Verification of providers: samples, queue, findings, scorecards.")
app.add_typer(anomaly_app, name="anomaly", help="Anomaly detection over stored claims.")
app.add_typer(web_app, name="web", help="Web pages: prepare a populated demo (accounts of each role).")
app.add_typer(payments_app, name="payments", help="Payment batches to providers (maker-checker).")
app.command(help="Year-end reconciliation: re-settle a scheme's benefit year in service-date order.")(reconcile)
app.add_typer(care_app, name="care", help="Care ledger of the registered poor.")
app.add_typer(cards_app, name="cards", help="Member cards: issue and print by area, verify a QR payload, public key.")
app.add_typer(report_app, name="report", help="Programme indicators and the semi-annual report.")
app.add_typer(targeting_app, name="targeting", help="Identification of the poor: rules, scores, rounds.")
app.add_typer(
    organisations_app, name="organisations", help="HEF operators and neighbourhood organisations: coverage by area."
)


if __name__ == "__main__":  # pragma: no cover
    app()
