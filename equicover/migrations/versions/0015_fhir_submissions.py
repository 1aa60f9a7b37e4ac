"""Claims as the provider sent them: ``claim_documents``.

One row per claim submitted as a document (a FHIR Claim), kept byte for byte beside the stored
claim (``equicover.claims.documents``): the provider reads back the Claim it sent, and the
ClaimResponse and ExplanationOfBenefit answer item by item.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_pk", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["claim_pk"], ["claims.id"], name=op.f("fk_claim_documents_claim_pk_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_documents")),
        sa.UniqueConstraint("claim_pk", name=op.f("uq_claim_documents_claim_pk")),
    )


def downgrade() -> None:
    op.drop_table("claim_documents")
