"""`equicover web demo`: make the configured database ready to click through in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from equicover.auth.roles import Role
from equicover.console import make_console
from equicover.db import migrate
from equicover.db.session import session_scope
from equicover.db.settings import database_url as configured_database_url
from equicover.errors import EquicoverError

if TYPE_CHECKING:
    from equicover.web.seed import DemoAccounts

web_app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
_console = make_console()


@web_app.command("demo")
def demo(
    people: int = typer.Option(
        20_000, "--people", min=100, help="Persons of the synthetic province (when generating one)."
    ),
    seed: int = typer.Option(1, "--seed", help="Random seed of the province and of the verification sample."),
    claims: Path | None = typer.Option(
        None,
        "--claims",
        exists=True,
        dir_okay=False,
        help="Use this province's claims file (from `equicover demo`) instead of generating.",
    ),
    password: str | None = typer.Option(
        None, "--password", help="One password for every demo account (default: a random one each, printed)."
    ),
) -> None:
    """Generate (or take) a province, store its settled claims, draw a verification sample and
    create one account per role; then `equicover serve` opens onto a populated application."""
    from equicover.web.seed import prepare_web_demo, seed_web_demo

    url = configured_database_url()
    try:
        migrate.upgrade(url)
        with _console.status("Preparing the web demo (province, claims, verification sample, accounts)"):
            with session_scope() as session:
                if claims is not None:
                    accounts = prepare_web_demo(session=session, claims_path=claims, password=password, seed=seed)
                else:
                    accounts = seed_web_demo(session=session, people=people, seed=seed, password=password)
    except EquicoverError as error:
        _console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None
    print_accounts(accounts, console=_console)
    _console.print("Now: [bold]equicover serve[/] and open http://127.0.0.1:8000/")


def print_accounts(accounts: DemoAccounts, *, console: Console) -> None:
    """The demo accounts, each with the page it opens on, and what the demo stored."""
    table = Table(title="Accounts (each with its own password)")
    table.add_column("role")
    table.add_column("username")
    table.add_column("password")
    table.add_column("opens on")
    pages = {
        Role.CLERK: "/window",
        Role.REGISTRAR: "/registry",
        Role.VERIFIER: "/verification",
        Role.FUND_MANAGER: "/dashboard",
        Role.ADMIN: "/dashboard",
        Role.ANALYST: "/simulation",
    }
    for role, username in accounts.usernames.items():
        table.add_row(role, username, accounts.passwords[role], pages[role])
    console.print(table)
    console.print(
        f"{accounts.claims:,} claims of {accounts.year} stored, {accounts.sampled} sampled for review in district "
        f"{accounts.district_code}; the clerk works at {accounts.provider_code}."
    )
