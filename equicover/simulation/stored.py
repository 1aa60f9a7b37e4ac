"""A stored year of claims as the text columns of a claims file, with the registry's households.

``stored:YEAR`` on the command line: every stored claim with a service date in calendar year YEAR
that is settled (not reversed) and was not set aside as unpaid (``zero_reason``: member not
covered, provider outside its contract: no policy would pay those, so they are counted and left
out). Each claim carries, beside the contract's columns, its member's household (id and the
registry's count of its persons), district and the household's recorded consumption of the year
(``household_consumption``, empty where none is recorded: that household is left out of the
catastrophic-spending shares), which the catastrophic-spending figures need. When no household
has a consumption recorded for the year, the column is left out altogether (not computed).
Bill numbers are unique per facility only: when two facilities used one number in the year,
every claim id is written ``<facility code>/<bill number>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import ColumnElement, String, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from equicover.claims.models import Claim, PolicyVersion
from equicover.enrolment.models import Enrolment
from equicover.providers.models import Provider
from equicover.registry.models import Household, Location, Person, PersonCategory
from equicover.reports import service as reports
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


def stored_year_claims(
    *, session: Session, year: int, default_minor_digits: int, with_consumption: bool = True
) -> StoredYear:
    """The stored claims of ``year`` as an Arrow table of text columns (see the module docstring).
    ``with_consumption``: join the households' consumption (a projection needs none).

    Set-based, for a large year (a projection starts with it): the year's claims are read in one
    scan with no join, the persons' households and districts and the small tables of facilities
    and policy versions each in one more; they are joined column-wise in Arrow. Dates and flags
    come out of the database as the file's text, amounts as integers formatted column-wise."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    in_year = (Claim.service_date >= start) & (Claim.service_date <= end)
    connection = session.connection()  # plain rows: no ORM loading per row
    counts = {
        (status, paid): count
        for status, paid, count in connection.execute(
            select(Claim.status, Claim.zero_reason.is_(None), func.count())
            .where(in_year)
            .group_by(Claim.status, Claim.zero_reason.is_(None))
        )
    }
    claims = _columns(
        connection.execute(
            select(
                Claim.claim_id,
                Claim.person_id,
                cast(Claim.service_date, String),
                Claim.provider_id,
                Claim.provider_level,
                _flag(Claim.designated),
                _flag(Claim.in_area),
                _flag(Claim.referred),
                Claim.care_type,
                Claim.diagnosis,
                Claim.days,
                Claim.total,
                Claim.eligible,
                Claim.categories,
                Claim.policy_version_id,
            )
            .where(in_year, Claim.status == "settled", Claim.zero_reason.is_(None))
            .order_by(Claim.id)
        ).all(),
        15,
    )
    district = aliased(Location)
    home = aliased(Location)
    sizes = select(Person.household_id, func.count().label("size")).group_by(Person.household_id).subquery()
    persons = _columns(
        connection.execute(
            select(Person.id, Person.household_id, sizes.c.size, district.code, district.name)
            .join(Household, Household.id == Person.household_id)
            .join(home, home.id == Household.location_id)
            .outerjoin(district, district.id == home.district_id)
            .outerjoin(sizes, sizes.c.household_id == Person.household_id)
        ).all(),
        5,
    )
    providers = _columns(connection.execute(select(Provider.id, Provider.code)).all(), 2)
    versions = _columns(connection.execute(select(PolicyVersion.id, PolicyVersion.minor_digits)).all(), 2)
    consumption = reports.household_consumption_of_year(session=session, year=year) if with_consumption else None
    table = _claims_table(claims, persons, providers, versions, default_minor_digits, consumption)
    settled = sum(count for (status, _), count in counts.items() if status == "settled")
    return StoredYear(
        table=table,
        claims=table.num_rows,
        set_aside=settled - table.num_rows,
        reversed=sum(count for (status, _), count in counts.items() if status == "reversed"),
    )


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[Sequence[Any]]:
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


def _flag(column: Any) -> ColumnElement[str]:
    return case((column, "true"), else_="false")


def _text(values: Any) -> Any:
    return values.cast(pa.string())


def _money(amounts: Any, digits: Any) -> Any:
    """Minor units as the file's decimal text (``equicover.money.format_money``), column-wise: one
    pass per number of minor digits present (a year's claims are nearly always in one currency)."""
    if len(amounts) and pc.min(amounts).as_py() < 0:
        raise SimulationError("a stored claim has a negative amount")
    texts: Any = amounts.cast(pa.string())
    value: Any
    for value in pc.unique(digits).to_pylist():
        if value == 0:
            continue
        scale = 10**value
        whole = pc.divide(amounts, scale)  # integer division: the amounts are not negative
        fraction = pc.subtract(amounts, pc.multiply(whole, scale))
        formatted = pc.binary_join_element_wise(
            whole.cast(pa.string()), pc.utf8_lpad(fraction.cast(pa.string()), width=value, padding="0"), "."
        )
        texts = pc.if_else(pc.equal(digits, value), formatted, texts)
    return texts


def _lookup(keys: Any, table_keys: Sequence[Any], values: Sequence[Any], kind: pa.DataType) -> Any:
    """``values[table_keys.index(key)]`` for each key, column-wise (null where the key is absent)."""
    positions = pc.index_in(keys, value_set=pa.array(table_keys, pa.int64()))
    return pa.array(values, kind).take(positions)


def _claims_table(
    claims: list[Sequence[Any]],
    persons: list[Sequence[Any]],
    providers: list[Sequence[Any]],
    versions: list[Sequence[Any]],
    default_minor_digits: int,
    consumption: tuple[list[int], list[int]] | None = None,
) -> pa.Table:
    """The year's claims (in the order of their select) as the text columns of a claims file."""
    # Arrow arrays are typed loosely here: the stubs know no column of a runtime type.
    person_ids: Any = pa.array(claims[1], pa.int64())
    codes = _lookup(pa.array(claims[3], pa.int64()), providers[0], providers[1], pa.string())
    bill_numbers: Any = pa.array(claims[0], pa.string())
    if pc.count_distinct(bill_numbers).as_py() < len(bill_numbers):
        bill_numbers = pc.binary_join_element_wise(codes, bill_numbers, "/")
    version_ids = pa.array(claims[14], pa.int64())
    digits = pc.fill_null(_lookup(version_ids, versions[0], versions[1], pa.int64()), default_minor_digits)
    households = _lookup(person_ids, persons[0], persons[1], pa.int64())
    sizes = pc.fill_null(_lookup(person_ids, persons[0], persons[2], pa.int64()), 1)
    district = pc.binary_join_element_wise(
        _lookup(person_ids, persons[0], persons[3], pa.string()),
        pc.fill_null(_lookup(person_ids, persons[0], persons[4], pa.string()), ""),
        " ",
    )
    categories: Any = pa.array(claims[13], pa.string())
    values = (
        bill_numbers,
        _text(person_ids),
        pa.array(claims[2], pa.string()),
        codes,
        *(pa.array(claims[index], pa.string()) for index in (4, 5, 6, 7, 8, 9)),
        _text(pa.array(claims[10], pa.int64())),
        _money(pa.array(claims[11], pa.int64()), digits),
        _money(pa.array(claims[12], pa.int64()), digits),
        pc.fill_null(categories, ""),
        _text(households),
        _text(sizes),
        pc.fill_null(district, ""),
    )
    names = (*CLAIM_COLUMNS, "household_id", "household_size", "district")
    columns = dict(zip(names, values, strict=True))
    if consumption is not None and consumption[0]:
        # the household's yearly amount in the claims' currency, as the file's decimal text
        amounts = _lookup(households, consumption[0], consumption[1], pa.int64())
        columns["household_consumption"] = pc.fill_null(_money(amounts, digits), "")
    return pa.table(columns)


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
