"""Targeting rules: what a programme asks a household and how the answers decide its category.

A rules file (``targeting/*.toml``, read by :mod:`equicover.targeting.loader`) holds:

- the questionnaire: items with an answer type (``choice``, ``yes_no``, ``number``, ``money``), the
  options of a choice, whether an item is required, and the area types it is asked in;
- scores: points per answer of choice items and weights of number items, plus a constant, per area
  type (a points table such as Cambodia's IDPoor or a proxy-means formula such as Morocco's RAMED);
- income lines per person and period by area type, compared with the household's declared income;
- deprivation indicators, counted per household (Viet Nam's multidimensional standard);
- the programme's categories, in order: the first whose conditions hold is the household's, and
  each names the registry categories it grants (``registered_poor``, ``near_poor``...);
- how long a decision is valid and the procedure: who validates, the notice period, the objection
  window, the level of the area whose authority approves.

Figures are exact: points and weights are decimals, money is integer minor units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from equicover.settlement.model import NAME_LANGUAGES, LocalNames, local_name

ItemType = Literal["choice", "yes_no", "number", "money"]
ITEM_TYPES: tuple[ItemType, ...] = ("choice", "yes_no", "number", "money")
IncomePeriod = Literal["year", "month"]
INCOME_PERIODS: tuple[IncomePeriod, ...] = ("year", "month")
YES_NO_OPTIONS = ("yes", "no")
# The outcome of a household that meets no category's conditions.
NOT_IDENTIFIED = "none"
# Levels of the area whose authority approves a round (registry location levels).
APPROVING_LEVELS = ("commune", "district", "province")
# Languages a question, an answer or a category may be labelled in (``labels`` tables).
LABEL_LANGUAGES = NAME_LANGUAGES
# A text in each language the file gives it in: ((language, text), ...).
Labels = LocalNames


def text_in(labels: Labels, language: str, default: str) -> str:
    """The text in ``language``, else in English, else ``default`` (the file's own ``label``)."""
    return local_name(labels, language, default)


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    label: str
    type: ItemType
    required: bool = True
    options: tuple[str, ...] = ()
    area_types: tuple[str, ...] = ()  # empty: asked in every area type
    minimum: int | None = None
    maximum: int | None = None
    labels: Labels = ()  # the question in the people's languages ([item.labels])
    option_labels: dict[str, Labels] = field(default_factory=dict)  # option -> its text per language

    def asked_in(self, area_type: str) -> bool:
        return not self.area_types or area_type in self.area_types

    def label_in(self, language: str) -> str:
        return text_in(self.labels, language, self.label)

    def option_in(self, option: str, language: str) -> str:
        """An answer as people read it: the file's text, else the option's name with spaces."""
        return text_in(self.option_labels.get(option, ()), language, option.replace("_", " "))


@dataclass(frozen=True, slots=True)
class Score:
    id: str
    area_types: tuple[str, ...]  # empty: every area type
    constant: Decimal = Decimal(0)
    points: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # item -> option -> points
    weights: dict[str, Decimal] = field(default_factory=dict)  # number item -> weight per unit


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    area_type: str
    per_person: int  # minor units per person and income period


@dataclass(frozen=True, slots=True)
class Deprivation:
    id: str
    item: str
    deprived: tuple[str, ...] = ()  # answers of a choice / yes_no item that count as deprived
    below: int | None = None  # a number item under this counts as deprived


@dataclass(frozen=True, slots=True)
class Condition:
    area_types: tuple[str, ...] = ()
    score_at_least: dict[str, Decimal] = field(default_factory=dict)
    score_at_most: dict[str, Decimal] = field(default_factory=dict)
    income_below: str | None = None  # a line id: income per person strictly below it
    income_at_most: str | None = None  # a line id: income per person at or below it
    income_at_least: str | None = None
    deprivations_at_least: int | None = None
    deprivations_at_most: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    id: str
    label: str
    grants: tuple[str, ...]  # registry category codes the members receive
    when: tuple[Condition, ...]  # any one holding is enough
    validity_months: int | None = None  # overrides the rules' validity for this category
    labels: Labels = ()  # the category's name in the people's languages ([category.labels])

    def label_in(self, language: str) -> str:
        return text_in(self.labels, language, self.label)


@dataclass(frozen=True, slots=True)
class Procedure:
    validation: str  # who validates the preliminary list (e.g. "village representative group")
    notice_days: int
    objection_days: int  # objections are received from the first day of the notice, this many days
    approving_level: str
    on_demand: bool = False
    hospital_validity_days: int | None = None


@dataclass(frozen=True, slots=True)
class Income:
    item: str  # money item: the household's income for the period
    members_item: str  # number item: persons the income is shared by
    period: IncomePeriod


@dataclass(frozen=True, slots=True)
class TargetingRules:
    id: str
    name: str
    currency: str
    minor_digits: int
    effective_from: dt.date
    effective_to: dt.date | None
    area_types: tuple[str, ...]
    validity_months: int
    items: tuple[Item, ...]
    scores: tuple[Score, ...]
    lines: tuple[Line, ...]
    deprivations: tuple[Deprivation, ...]
    outcomes: tuple[Outcome, ...]
    procedure: Procedure
    source: str
    income: Income | None = None
    path: str = ""

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(item_id)

    def outcome(self, outcome_id: str) -> Outcome:
        for outcome in self.outcomes:
            if outcome.id == outcome_id:
                return outcome
        raise KeyError(outcome_id)

    def line_amount(self, line_id: str, area_type: str) -> int | None:
        for line in self.lines:
            if line.id == line_id and line.area_type == area_type:
                return line.per_person
        return None

    def grants_of(self, outcome_id: str) -> tuple[str, ...]:
        if outcome_id == NOT_IDENTIFIED:
            return ()
        return self.outcome(outcome_id).grants

    def rank_of(self, outcome_id: str) -> int:
        """Position of a category in the file (0 = the first, the poorest); NOT_IDENTIFIED is last."""
        for index, outcome in enumerate(self.outcomes):
            if outcome.id == outcome_id:
                return index
        return len(self.outcomes)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later (the month's last day when it has fewer days)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(f"no date {months} months after {day}")  # pragma: no cover - 28 always exists


def valid_until(rules: TargetingRules, outcome_id: str, valid_from: dt.date) -> dt.date:
    """Last day (inclusive) of a decision for ``outcome_id`` taking effect on ``valid_from``."""
    months = rules.validity_months
    if outcome_id != NOT_IDENTIFIED:
        months = rules.outcome(outcome_id).validity_months or months
    return add_months(valid_from, months) - dt.timedelta(days=1)
