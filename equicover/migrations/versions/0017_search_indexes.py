"""Indexes of the registry's searches: a national ID alone, without its type; a name that begins
with what was typed (``lower(full_name)``, the romanised form, the romanised form written
together), with pattern operators on PostgreSQL so that LIKE 'text%' reads them whatever the
database's collation.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_persons_national_id", "persons", ["national_id"])
    op.create_index(
        "ix_persons_full_name_lower",
        "persons",
        [sa.func.lower(sa.column("full_name")).label("full_name_lower")],
        postgresql_ops={"full_name_lower": "text_pattern_ops"},
    )
    op.create_index(
        "ix_person_name_forms_romanised_pattern",
        "person_name_forms",
        ["romanised"],
        postgresql_ops={"romanised": "varchar_pattern_ops"},
    )
    op.create_index(
        "ix_person_name_forms_romanised_joined",
        "person_name_forms",
        [
            sa.func.replace(sa.column("romanised"), sa.literal_column("' '"), sa.literal_column("''")).label(
                "romanised_joined"
            )
        ],
        postgresql_ops={"romanised_joined": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_person_name_forms_romanised_joined", table_name="person_name_forms")
    op.drop_index("ix_person_name_forms_romanised_pattern", table_name="person_name_forms")
    op.drop_index("ix_persons_full_name_lower", table_name="persons")
    op.drop_index("ix_persons_national_id", table_name="persons")
