"""A stored year of claims as the text columns of a claims file, with the registry's households.

``stored:YEAR`` on the command line: every stored claim with a service date in calendar year YEAR
that is settled (not reversed) and was not set aside as unpaid (``zero_reason``: member not
covered, provider outside its contract: no policy would pay those, so they are counted and left
out). Each claim carries, beside the contract's columns, its member's household (id and the
registry's count of its persons) and district, which the catastrophic-spending figures need.
Bill numbers are unique per facility only: when two facilities used one number in the year,
every claim id is written ``<facility code>/<bill number>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from equicover.claims.models import Claim, PolicyVersion
from equicover.enrolment.models import Enrolment
from equicover.money import format_money
from equicover.providers.models import Provider
from equicover.registry.models import Household, Location, Person, PersonCategory
from equicover.settlement.claims_file import CLAIM_COLUMNS
from equicover.simulation.engine import SimulationError

STORED_PREFIX = "stored:"


@dataclass(frozen=True, slots=True)
class StoredYear:
    table: pa.Table
    claims: int
    set_aside: int  # settled with nothing paid because no policy applied (not covered, no contract)
    reversed: int


def parse_stored(text: str) -> int | None:
    """``stored:2018`` -> 2018; None for anything else (a file path)."""
    if not text.startswith(STORED_PREFIX):
        return None
    year = text[len(STORED_PREFIX) :]
    if not (year.isascii() and year.isdigit() and len(year) == 4):
        raise SimulationError(f"--claims {text!r}: write stored:YEAR with a four-digit year")
    return int(year)


def stored_year_claims(*, session: Session, year: int, default_minor_digits: int) -> StoredYear:
    """The stored claims of ``year`` as an Arrow table of text columns (see the module docstring)."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    in_year = (Claim.service_date >= start) & (Claim.service_date <= end)
    counts = dict(session.execute(select(Claim.status, func.count()).where(in_year).group_by(Claim.status)).all())
    set_aside = session.scalar(
        select(func.count()).where(in_year, Claim.status == "settled", Claim.zero_reason.is_not(None))
    )
    district = aliased(Location)
    home = aliased(Location)
    sizes = select(Person.household_id, func.count().label("size")).group_by(Person.household_id).subquery()
    rows = session.execute(
        select(
            Claim.claim_id,
            Claim.person_id,
            Claim.service_date,
            Provider.code,
            Claim.provider_level,
            Claim.designated,
            Claim.in_area,
            Claim.referred,
            Claim.care_type,
            Claim.diagnosis,
            Claim.days,
            Claim.total,
            Claim.eligible,
            Claim.categories,
            PolicyVersion.minor_digits,
            Person.household_id,
            sizes.c.size,
            district.code,
            district.name,
        )
        .join(Provider, Provider.id == Claim.provider_id)
        .join(Person, Person.id == Claim.person_id)
        .join(Household, Household.id == Person.household_id)
        .join(home, home.id == Household.location_id)
        .outerjoin(district, district.id == home.district_id)
        .outerjoin(sizes, sizes.c.household_id == Person.household_id)
        .outerjoin(PolicyVersion, PolicyVersion.id == Claim.policy_version_id)
        .where(in_year, Claim.status == "settled", Claim.zero_reason.is_(None))
        .order_by(Claim.id)
    ).all()
    bill_numbers = [row[0] for row in rows]
    prefixed = len(set(bill_numbers)) < len(bill_numbers)
    columns: dict[str, list[str]] = {
        name: [] for name in (*CLAIM_COLUMNS, "household_id", "household_size", "district")
    }
    for row in rows:
        digits = row[14] if row[14] is not None else default_minor_digits
        values = (
            f"{row[3]}/{row[0]}" if prefixed else row[0],
            str(row[1]),
            row[2].isoformat(),
            row[3],
            row[4],
            "true" if row[5] else "false",
            "true" if row[6] else "false",
            "true" if row[7] else "false",
            row[8],
            row[9],
            str(row[10]),
            format_money(row[11], digits),
            format_money(row[12], digits),
            row[13] or "",
            str(row[15]),
            str(row[16] or 1),
            f"{row[17]} {row[18]}" if row[17] is not None else "",
        )
        for name, value in zip(columns, values):
            columns[name].append(value)
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    return StoredYear(
        table=table,
        claims=len(rows),
        set_aside=int(set_aside or 0),
        reversed=int(counts.get("reversed", 0)),
    )


def enrolled_by_group(*, session: Session, year: int, groups: Sequence[tuple[str, ...]]) -> list[int]:
    """Persons with an active enrolment in ``year`` in each group: the first group one of whose
    categories the person holds at some time of the year; a group of no categories takes the rest."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    enrolled = set(
        session.scalars(
            select(Enrolment.person_id)
            .where(Enrolment.status == "active", Enrolment.starts <= end, Enrolment.ends >= start)
            .distinct()
        )
    )
    held: dict[int, set[str]] = {}
    for person_id, category in session.execute(
        select(PersonCategory.person_id, PersonCategory.category).where(
            PersonCategory.valid_from <= end,
            (PersonCategory.valid_to.is_(None)) | (PersonCategory.valid_to >= start),
        )
    ):
        held.setdefault(person_id, set()).add(category)
    counts = [0] * len(groups)
    for person_id in enrolled:
        categories = held.get(person_id, set())
        for index, group in enumerate(groups):
            if not group or categories.intersection(group):
                counts[index] += 1
                break
    return counts
