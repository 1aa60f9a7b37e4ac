"""`equicover users create`: make an account from the command line."""

from __future__ import annotations

import typer
from rich.console import Console

from equicover.admin.service import create_user
from equicover.auth.roles import ROLES
from equicover.auth.service import generate_password
from equicover.db.session import session_scope
from equicover.errors import EquicoverError

users_app = typer.Typer(no_args_is_help=True, help="Accounts of the HTTP service.")
_console = Console()


@users_app.command("create")
def create(
    username: str = typer.Option(..., "--username", help="Login name"),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}"),
    area: str | None = typer.Option(None, "--area", help="Location code of a registrar's or verifier's area"),
    provider: str | None = typer.Option(None, "--provider", help="Provider code of a clerk's facility"),
    password: str | None = typer.Option(None, "--password", help="Default: generate one and print it"),
    language: str = typer.Option("en", "--language", help="Language of the web pages"),
) -> None:
    """Create a user; prints the generated password when none is given."""
    chosen = password or generate_password()
    try:
        with session_scope() as session:
            create_user(
                session=session,
                username=username,
                password=chosen,
                role=role,
                area_code=area,
                provider_code=provider,
                language=language,
                actor="cli",
            )
    except EquicoverError as error:
        _console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(code=1) from None
    _console.print(f"created user [bold]{username}[/bold] ({role})")
    if password is None:
        _console.print(f"password: {chosen}")


@users_app.command("demo")
def demo_users() -> None:
    """Create (or reset) one demo account per role on the loaded province and print the passwords."""
    from equicover.admin.demo_accounts import create_demo_users

    try:
        with session_scope() as session:
            users = create_demo_users(session=session, actor="cli")
    except EquicoverError as error:
        _console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(code=1) from None
    _console.print(f"{'username':<16} {'password':<18} {'role':<13} scope")
    for user in users:
        _console.print(user.line(), highlight=False)
