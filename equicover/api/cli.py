"""`equicover serve`: run the HTTP service with uvicorn."""

from __future__ import annotations

import os
import sys

import typer


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port"),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes"),
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json) on the configured database."""
    # Access logs are off: request lines carry record ids in their paths; the service logs its own lines.
    if workers > 1:
        # uvicorn's worker processes are spawned by re-running __main__, which must be uvicorn
        # itself (re-running the `equicover` script kills the children at start).
        arguments = [sys.executable, "-m", "uvicorn", "equicover.api.server:app", "--host", host, "--port", str(port)]
        arguments += ["--workers", str(workers), "--no-access-log"]
        os.execv(sys.executable, arguments)
    import uvicorn

    uvicorn.run("equicover.api.server:app", host=host, port=port, access_log=False, log_level="info")
