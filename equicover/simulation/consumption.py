"""Household consumption, the denominator of catastrophic health spending (SDG 3.8.2).

SDG 3.8.2 counts the households whose out-of-pocket health spending in a year is above 10% (and
25%) of their total consumption. Claims carry no consumption, so a simulation takes it from one
of, in this order:

1. a ``household_consumption`` column of the claims file (yearly, major units; the largest value
   given for a household counts), with ``household_id`` grouping the members;
2. a consumption file (TOML): a yearly amount per person by category, first matching category
   of any member of the household wins, times the household's size (the registry's count of its
   persons for stored claims; a ``household_size`` column of a file, else the household's members
   with claims, else 1: the member alone).

The file's figures are labelled assumptions with their sources; the report says which way was
used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from equicover.money import minor_digits_of
from equicover.simulation.data_files import DataProblem, TomlReader

CONSUMPTION_KEYS = ("consumption", "per_person")
HEADER_KEYS = ("id", "currency", "minor_digits", "year", "source")
PER_PERSON_KEYS = ("category", "amount", "note")


@dataclass(frozen=True, slots=True)
class PerPersonConsumption:
    category: str | None  # None: everyone else
    amount: int  # minor units a person a year


@dataclass(frozen=True, slots=True)
class ConsumptionAssumptions:
    id: str
    currency: str
    minor_digits: int
    year: int
    source: str
    per_person: tuple[PerPersonConsumption, ...]
    path: str

    @property
    def default(self) -> int:
        return next((row.amount for row in self.per_person if row.category is None), 0)


def load_consumption(path: str | Path) -> ConsumptionAssumptions:
    reader = TomlReader(Path(path))
    document = reader.document
    reader.keys(document, (), CONSUMPTION_KEYS, ("consumption", "per_person"))
    header = reader.table(document.get("consumption", {}), ("consumption",))
    reader.keys(header, ("consumption",), HEADER_KEYS, ("id", "currency", "year", "source"))
    currency = reader.text_value(header, "currency", ("consumption",), "")
    digits = header.get("minor_digits")
    if digits is None:
        try:
            digits = minor_digits_of(currency)
        except Exception:
            reader.problem(("consumption", "currency"), f"unknown currency {currency!r}: give minor_digits")
            digits = 2
    rows: list[PerPersonConsumption] = []
    seen_default = False
    for row_path, row in reader.tables(document.get("per_person", []), ("per_person",)):
        reader.keys(row, row_path, PER_PERSON_KEYS, ("amount",))
        category = row.get("category")
        if category is not None and (not isinstance(category, str) or not category.strip()):
            reader.problem(row_path + ("category",), "must be a non-empty string")
            category = None
        if category is None:
            if seen_default:
                reader.problem(row_path, "only one row may leave out `category` (everyone else)")
            seen_default = True
        rows.append(PerPersonConsumption(category, reader.money(row, "amount", row_path, int(digits))))
    if not seen_default:
        reader.problem(("per_person",), "one row must leave out `category`: the consumption of everyone else")
    assumptions = ConsumptionAssumptions(
        id=reader.text_value(header, "id", ("consumption",), ""),
        currency=currency,
        minor_digits=int(digits),
        year=reader.whole(header, "year", ("consumption",), minimum=1900) if "year" in header else 0,
        source=reader.text_value(header, "source", ("consumption",), ""),
        per_person=tuple(rows),
        path=str(path),
    )
    reader.raise_problems()
    return assumptions


def currency_problem(assumptions: ConsumptionAssumptions, currency: str) -> DataProblem | None:
    if assumptions.currency == currency:
        return None
    return DataProblem(
        assumptions.path, 1, "consumption.currency", f"{assumptions.currency} is not the policies' currency {currency}"
    )
