"""Where the database is.

``EQUICOVER_DATABASE_URL`` selects it; without it equicover uses an embedded SQLite file,
``equicover.db`` in the current working directory. PostgreSQL is selected with a URL such as
``postgresql+psycopg://user@host:5432/equicover`` (psycopg 3).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

DATABASE_URL_ENV = "EQUICOVER_DATABASE_URL"
DEFAULT_SQLITE_FILENAME = "equicover.db"


def default_database_url(directory: Path | None = None) -> str:
    base = (directory or Path.cwd()).resolve()
    return f"sqlite:///{base / DEFAULT_SQLITE_FILENAME}"


def database_url() -> str:
    """The configured database URL (environment first, then the SQLite default)."""
    configured = os.environ.get(DATABASE_URL_ENV, "").strip()
    if configured:
        if configured.startswith(("postgresql://", "postgres://")):
            # psycopg 3 is the only PostgreSQL driver shipped; a bare URL would pick psycopg2.
            scheme, rest = configured.split("://", 1)
            configured = f"postgresql+psycopg://{rest}"
        return configured
    return default_database_url()


def shown_url(url: str) -> str:
    """The URL as a person may read it: the password, if any, masked."""
    return make_url(url).render_as_string(hide_password=True)
