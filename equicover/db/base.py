"""The declarative base shared by every domain's models (:mod:`equicover.tables` imports them all).

The naming convention gives every constraint and index a deterministic name, so Alembic
migrations (and SQLite batch rebuilds) can refer to them by name on both databases.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def in_list(column: str, values: tuple[str, ...] | list[str]) -> str:
    """The SQL of a CHECK constraint: ``column`` holds one of ``values`` (plain identifiers)."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model is mapped to a plain Table (none to a join or a select), so ``Model.__table__``
    # is typed as one and can go wherever a Table is expected (bulk loads, id sequences).
    __table__: ClassVar[Table]
