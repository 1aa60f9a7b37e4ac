"""The application object uvicorn imports (``equicover.api.server:app``), on the configured database."""

from __future__ import annotations

from equicover.api.app import create_app

app = create_app()
