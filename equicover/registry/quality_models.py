"""Registry-quality tables: name forms, imports, duplicate review, ID links.

- ``person_name_forms``: the folded / romanised / sorted-token forms of each person's full name
  (see :mod:`equicover.registry.normalise`), kept beside the name as written.
- ``import_runs`` and ``person_sources``: each import of a file, and which source row made which
  person. ``(source, source_row_id)`` is unique: importing a file twice imports nothing twice.
- ``dedupe_runs`` and ``duplicate_pairs``: each Splink run, and the pairs it found with their
  match probability and cluster. A pair's ``status`` is the registrar's decision; a decided pair
  is never put in the review queue again, whatever later runs find.
- ``person_id_links``: the link of a person to a row of a national ID register file.

A merged person keeps its row: ``persons.merged_into_id`` points at the surviving record.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

# pending: in the review queue; confirmed / rejected: the registrar's decision; auto: above
# the automatic threshold (merged by `dedupe merge` unless rejected); merged: done.
PAIR_STATUSES = ("pending", "auto", "confirmed", "rejected", "merged")
LINK_METHODS = ("exact", "probabilistic")


class PersonNameForms(Base):
    __tablename__ = "person_name_forms"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    folded: Mapped[str] = mapped_column(String(400))
    romanised: Mapped[str] = mapped_column(String(400), index=True)
    sorted_key: Mapped[str] = mapped_column(String(400))


# The search by name (``web.queries``): a romanised form, and the same written together ("yangfei"),
# that begins with what was typed, read from an index on PostgreSQL whatever the collation.
Index(
    "ix_person_name_forms_romanised_pattern",
    PersonNameForms.romanised,
    postgresql_ops={"romanised": "varchar_pattern_ops"},
)
Index(
    "ix_person_name_forms_romanised_joined",
    func.replace(PersonNameForms.romanised, literal_column("' '"), literal_column("''")).label("romanised_joined"),
    postgresql_ops={"romanised_joined": "text_pattern_ops"},
)


def romanised_words() -> ColumnElement[str]:
    """The romanised form after a space: LIKE '% fei%' on it finds a word of the name beginning with
    "fei", the first word included. The search and its trigram index (PostgreSQL only) share it."""
    return literal(" ", String, literal_execute=True) + PersonNameForms.romanised


Index(
    "ix_person_name_forms_romanised_words_trgm",
    romanised_words().label("romanised_words"),
    postgresql_using="gin",
    postgresql_ops={"romanised_words": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


class ImportRun(Base):
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    file_name: Mapped[str] = mapped_column(String(400))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    rows_already_imported: Mapped[int] = mapped_column(Integer, default=0)


class PersonSource(Base):
    __tablename__ = "person_sources"
    __table_args__ = (UniqueConstraint("source", "source_row_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    source_row_id: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    import_run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id"), index=True)


class DedupeRun(Base):
    __tablename__ = "dedupe_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    backend: Mapped[str] = mapped_column(String(16))  # duckdb | spark
    persons: Mapped[int] = mapped_column(Integer)
    pairs_found: Mapped[int] = mapped_column(Integer)
    pairs_queued: Mapped[int] = mapped_column(Integer)
    review_threshold: Mapped[float] = mapped_column(Float)
    auto_threshold: Mapped[float] = mapped_column(Float)
    # The trained Splink model (settings JSON): later runs predict with it unless retrained,
    # and the Spark backend runs it unchanged.
    model: Mapped[str] = mapped_column(Text)


class DuplicatePair(Base):
    __tablename__ = "duplicate_pairs"
    __table_args__ = (
        UniqueConstraint("person_id_l", "person_id_r"),
        CheckConstraint("person_id_l < person_id_r", name="ordered"),
        CheckConstraint(in_list("status", PAIR_STATUSES), name="status"),
        Index(None, "status", "match_probability"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id_l: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    person_id_r: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    match_probability: Mapped[float] = mapped_column(Float)
    cluster_id: Mapped[int | None] = mapped_column(Integer, index=True)  # smallest person id of the cluster
    status: Mapped[str] = mapped_column(String(16))
    run_id: Mapped[int] = mapped_column(ForeignKey("dedupe_runs.id"), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PersonIdLink(Base):
    __tablename__ = "person_id_links"
    __table_args__ = (
        UniqueConstraint("register", "register_id"),
        UniqueConstraint("register", "person_id"),
        CheckConstraint(in_list("method", LINK_METHODS), name="method"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    register: Mapped[str] = mapped_column(String(100))  # e.g. "vneid"
    register_id: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    match_probability: Mapped[float] = mapped_column(Float)
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
