"""Claims as the provider sent them (migration 0015).

A claim submitted as a document (a FHIR Claim) is settled from the fields the cascade needs; the
document itself is kept beside the stored claim, byte for byte, so that the provider reads back
the Claim it sent (its items, its insurance, its own codes) and every answer about the claim can
speak of the items it listed. One document per claim: a repeated submission of the same bill
answers with the first, and keeps nothing new.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from equicover.db.base import Base


class ClaimDocument(Base):
    __tablename__ = "claim_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_pk: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    media_type: Mapped[str] = mapped_column(String(64))  # e.g. application/fhir+json
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    received_by: Mapped[str] = mapped_column(String(100))


def keep_claim_document(*, session: Session, claim_pk: int, media_type: str, body: str, actor: str) -> ClaimDocument:
    """Keep the document a claim was submitted as; the one already kept for the claim stays."""
    existing = claim_document(session=session, claim_pk=claim_pk)
    if existing is not None:
        return existing
    document = ClaimDocument(
        claim_pk=claim_pk,
        media_type=media_type,
        body=body,
        received_at=dt.datetime.now(dt.UTC),
        received_by=actor,
    )
    session.add(document)
    session.flush()
    return document


def claim_document(*, session: Session, claim_pk: int) -> ClaimDocument | None:
    """The document the claim was submitted as, or None (a claim loaded from a file, say)."""
    return session.scalar(select(ClaimDocument).where(ClaimDocument.claim_pk == claim_pk))
