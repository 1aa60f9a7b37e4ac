"""`equicover serve`: run the HTTP service with uvicorn."""

from __future__ import annotations

import os
import sys

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port"),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes"),
    uds: str | None = typer.Option(
        None, "--uds", help="Listen on this Unix socket instead of host and port (behind a reverse proxy)."
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        "--forwarded-allow-ips",
        help="Addresses whose X-Forwarded-For and X-Forwarded-Proto are believed: the reverse proxy's only "
        "(comma-separated; '' believes none). The client's address is what sign-in throttling counts.",
    ),
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json) on the configured database."""
    refuse_a_database_not_ready()
    warn_about_server_settings()
    listen = ["--uds", uds] if uds else ["--host", host, "--port", str(port)]
    # Access logs are off: request lines carry record ids in their paths; the service logs its own lines.
    if workers > 1:
        # uvicorn's worker processes are spawned by re-running __main__, which must be uvicorn
        # itself (re-running the `equicover` script kills the children at start).
        arguments = [sys.executable, "-m", "uvicorn", "equicover.api.server:app", *listen]
        arguments += ["--workers", str(workers), "--no-access-log", "--forwarded-allow-ips", forwarded_allow_ips]
        os.execv(sys.executable, arguments)
    import uvicorn

    uvicorn.run(
        "equicover.api.server:app",
        host=host,
        port=port,
        uds=uds,
        access_log=False,
        log_level="info",
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or None,
    )


def refuse_a_database_not_ready() -> None:
    """Stop before serving a database the pages could only fail on (every sign-in would answer
    503), saying why and what to run."""
    from equicover.db.migrate import readiness_problem
    from equicover.db.settings import DATABASE_URL_ENV, database_url, shown_url

    url = database_url()
    problem = readiness_problem(url)
    if problem is None:
        return
    typer.secho(
        f"error: cannot serve {shown_url(url)}: {problem}.\n"
        "Run `equicover db upgrade` to create or migrate it, `equicover demo` to build a demo province "
        f"in this folder, or set {DATABASE_URL_ENV} to the database to serve.",
        err=True,
        fg=typer.colors.RED,
    )
    raise typer.Exit(code=1)


def warn_about_server_settings() -> None:
    """Print what the database server's settings would cost real-time settlement (PostgreSQL only)."""
    from sqlalchemy.exc import SQLAlchemyError

    from equicover.db.engine import make_engine
    from equicover.db.server_advice import postgresql_advice

    engine = make_engine()
    try:
        lines = postgresql_advice(engine)
    except SQLAlchemyError as error:  # the service itself will say more when it starts
        lines = [f"could not read the database server's settings ({type(error).__name__})"]
    finally:
        engine.dispose()
    for line in lines:
        typer.secho(f"warning: {line}", err=True, fg=typer.colors.YELLOW)
