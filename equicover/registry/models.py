"""Registry tables.

Locations form a tree (country -> province -> district -> commune or neighbourhood). Besides
``parent_id`` every location carries its ancestors at each level *including itself*
(``country_id``, ``province_id``, ``district_id``), so that "group persons by district" is one
join and a GROUP BY, without a recursive query, on millions of persons.

Dates are inclusive at both ends: a category with ``valid_from = 2024-01-01`` and
``valid_to = 2024-12-31`` holds on both those days; ``valid_to = NULL`` means open-ended.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

# Depth of each level in the tree; "commune" and "neighbourhood" are the two names of the
# lowest level (rural commune, urban neighbourhood) and sit side by side under a district.
LOCATION_LEVELS: dict[str, int] = {
    "country": 0,
    "province": 1,
    "district": 2,
    "commune": 3,
    "neighbourhood": 3,
}
SEXES = ("female", "male", "other", "unknown")

# Categories the first migration seeds; more can be added with registry.service.create_category.
STANDARD_CATEGORIES: dict[str, str] = {
    "registered_poor": "Registered poor household member",
    "near_poor": "Near-poor household member",
    "vulnerable": "Vulnerable (not poor, cannot pay in full)",
    "elderly": "Elderly person",
    "ethnic_minority": "Member of an ethnic minority",
    "student": "Pupil or student",
    "foreign_national": "Foreign national",
    "child_under_6": "Child under six",
    "disabled": "Person with a disability",
    "informal_worker": "Informal-sector worker",
}


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (CheckConstraint(in_list("level", list(LOCATION_LEVELS)), name="level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    # Ancestors at each level, self included (a district's district_id is its own id).
    country_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    province_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"), index=True)


class Household(Base):
    __tablename__ = "households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    registered_on: Mapped[dt.date] = mapped_column(Date)


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (
        UniqueConstraint("id_type", "national_id"),
        CheckConstraint(in_list("sex", SEXES), name="sex"),
        CheckConstraint("(national_id IS NULL) = (id_type IS NULL)", name="national_id_with_type"),
        CheckConstraint("death_date IS NULL OR death_date >= birth_date", name="death_after_birth"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    # Names are kept as written, in any script; full_name is what the person's documents show.
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str] = mapped_column(String(400))
    name_script: Mapped[str | None] = mapped_column(String(8))  # ISO 15924: Latn, Arab, Hans, ...
    sex: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    national_id: Mapped[str | None] = mapped_column(String(64))
    id_type: Mapped[str | None] = mapped_column(String(32))  # e.g. cni, vneid, passport, cmnd
    phone: Mapped[str | None] = mapped_column(String(32))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    registered_on: Mapped[dt.date] = mapped_column(Date)
    death_date: Mapped[dt.date | None] = mapped_column(Date)
    # Set when this record was merged as a duplicate into another (registry quality):
    # the row is kept for history and references, and the surviving record is the one to use.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)


# The window's search (``web.queries``): a national ID alone (without its type); a name that begins
# with what was typed, whatever its case, read from an index on PostgreSQL whatever the database's
# collation (pattern operators compare characters, as LIKE does).
Index(None, Person.national_id)
Index(
    "ix_persons_full_name_lower",
    func.lower(Person.full_name).label("full_name_lower"),
    postgresql_ops={"full_name_lower": "text_pattern_ops"},
)
# A name that holds what was typed anywhere ("fei" finds "Yang Fei"): a trigram index, PostgreSQL only
# (SQLite has none; there that search reads the table).
Index(
    "ix_persons_full_name_trgm",
    func.lower(Person.full_name).label("full_name_lower"),
    postgresql_using="gin",
    postgresql_ops={"full_name_lower": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))


class PersonCategory(Base):
    __tablename__ = "person_categories"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_period"),
        Index(None, "person_id", "category"),
        Index(None, "category", "valid_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(200))  # e.g. "commune poverty census 2024"
