"""Bill numbers are unique per facility, not across every facility.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

A facility's bill number (``claims.claim_id``) could block another facility's bill with the same
number. The unique constraint on ``claim_id`` alone becomes one on (``claim_id``, ``provider_id``):
claim_id leads so that a lookup by bill number alone still uses the index. Stored claims already
satisfy the new constraint (it is weaker than the old one), so the upgrade cannot fail on data; a
downgrade refuses if two facilities now share a bill number.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_claims_claim_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_claims_claim_id_provider_id"), ["claim_id", "provider_id"])


def downgrade() -> None:
    with op.batch_alter_table("claims", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_claims_claim_id_provider_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_claims_claim_id"), ["claim_id"])
