"""`equicover policy load FILE --scheme CODE` and `equicover policy versions`: stored policy versions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from equicover.claims.service import list_policy_versions, store_policy_version
from equicover.db.session import session_scope
from equicover.errors import EquicoverError

_console = Console(highlight=False, soft_wrap=True)


def policy_load(
    file: Path = typer.Argument(..., help="Policy file (TOML)"),
    scheme: str = typer.Option(..., "--scheme", help="Code of the scheme whose members this policy covers"),
) -> None:
    """Validate a policy file and store it as a version for a scheme (refuses overlapping periods)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _console.print(f"[red]error:[/red] cannot read {file}: {type(error).__name__}")
        raise typer.Exit(code=1) from None
    try:
        with session_scope() as session:
            version = store_policy_version(session=session, source_text=text, scheme_code=scheme, actor="cli")
            summary = (version.id, version.policy_id, version.effective_from, version.effective_to)
    except EquicoverError as error:
        _console.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(code=1) from None
    end = summary[3].isoformat() if summary[3] else "open"
    _console.print(f"stored policy {summary[1]} as version {summary[0]} for scheme {scheme}: {summary[2].isoformat()} to {end}")


def policy_versions(scheme: str | None = typer.Option(None, "--scheme", help="Only this scheme")) -> None:
    """List the stored policy versions with their effective dates."""
    with session_scope() as session:
        rows, _total = list_policy_versions(session=session, scheme_code=scheme, limit=10_000)
        table = Table("version", "policy", "from", "to", "scheme id", "uploaded by")
        for row in rows:
            table.add_row(
                str(row.id), row.policy_id, row.effective_from.isoformat(), row.effective_to.isoformat() if row.effective_to else "open",
                str(row.scheme_id), row.uploaded_by,
            )
    _console.print(table)
