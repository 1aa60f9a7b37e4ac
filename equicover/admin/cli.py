"""`equicover users create|list|disable|enable|reset-password|demo`: accounts from the command line.

A running service notices a disable or a reset made here at its next database check of the
token: at once on every endpoint but claim submission, within the token cache's 10 seconds there.
"""

from __future__ import annotations

import typer
from rich.console import Console

from equicover.admin.service import (
    create_user,
    disable_user,
    enable_user,
    find_user,
    list_accounts,
    reset_user_password,
)
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
    area: str | None = typer.Option(
        None,
        "--area",
        help="Location code of a registrar's or verifier's area (any level: province, district, commune...)",
    ),
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


@users_app.command("list")
def list_users(
    role: str | None = typer.Option(None, "--role", help=f"Only this role: {', '.join(ROLES)}"),
    disabled: bool = typer.Option(False, "--disabled", help="Only the disabled accounts"),
) -> None:
    """List the accounts: username, role, area or facility, language, active or disabled."""
    with session_scope() as session:
        rows, total = list_accounts(session=session, role=role, active=False if disabled else None, limit=10_000)
    _console.print(f"{'username':<24} {'role':<13} {'area':<12} {'provider':<12} {'lang':<5} status")
    for row in rows:
        status = "active" if row.active else "disabled"
        place = f"{row.area or '-':<12} {row.provider or '-':<12}"
        line = f"{row.username:<24} {row.role:<13} {place} {row.language:<5} {status}"
        _console.print(line, highlight=False, markup=False)
    _console.print(f"{total} account(s)")


def _change(username: str, change: str, password: str | None = None) -> str | None:
    try:
        with session_scope() as session:
            user = find_user(session=session, username=username)
            if change == "disable":
                disable_user(session=session, user=user, actor="cli")
            elif change == "enable":
                enable_user(session=session, user=user, actor="cli")
            else:
                return reset_user_password(session=session, user=user, password=password, actor="cli")[1]
    except EquicoverError as error:
        _console.print(f"[red]error:[/red] {error.message}", highlight=False)
        raise typer.Exit(code=1) from None
    return None


@users_app.command("disable")
def disable(username: str = typer.Argument(..., help="Login name")) -> None:
    """Disable an account: it cannot sign in, and every token it holds is revoked."""
    _change(username, "disable")
    _console.print(f"disabled user [bold]{username}[/bold]; its tokens are revoked", highlight=False)


@users_app.command("enable")
def enable(username: str = typer.Argument(..., help="Login name")) -> None:
    """Enable a disabled account again (and lift a sign-in lock)."""
    _change(username, "enable")
    _console.print(f"enabled user [bold]{username}[/bold]", highlight=False)


@users_app.command("reset-password")
def reset(
    username: str = typer.Argument(..., help="Login name"),
    password: str | None = typer.Option(None, "--password", help="Default: generate one and print it"),
) -> None:
    """Give an account a new password (at least 12 characters, not a common one, without the
    username); its tokens are revoked. Prints the generated password when none is given."""
    chosen = _change(username, "reset", password)
    _console.print(f"new password set for [bold]{username}[/bold]; its tokens are revoked", highlight=False)
    if password is None:
        _console.print(f"password: {chosen}", highlight=False, markup=False)
