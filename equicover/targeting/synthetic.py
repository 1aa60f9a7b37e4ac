"""Synthetic households for any targeting rules: answers that follow a hidden true consumption.

Used by the benchmark and by the tests of the quality report: each household gets an area, a true
consumption per person and year (log-normal, in minor units), and answers drawn from it with
noise, so that a rule set identifies the poor imperfectly, as in the field:

- a choice or yes_no item that a score counts orders its options from poorest to richest by their
  points (more points meaning poorer when the file's first category asks for a score at least
  something, richer otherwise); an item a deprivation counts answers its deprived options when
  poorer; other items answer uniformly;
- a number item a score weighs grows with poverty when its weight points to the poor; ``members``-
  like items (the income's members item) are 1 to 8;
- the income item is consumption x members for the income period, with reporting noise.

Everything is vectorised with numpy (a million households take a few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa

from equicover.targeting.rules import Item, TargetingRules

# The true poverty line, per person and year, when the rules have no income line: the
# consumption scale is arbitrary then, and only the ranking matters.
DEFAULT_TRUE_LINE = 1_000_000


@dataclass(frozen=True, slots=True)
class SyntheticHouseholds:
    table: pa.Table  # household, area, area_type, the items (text), true_consumption (minor units/person/year)
    true_line: int  # minor units per person and year under which a household is truly poor


def _poor_is_high(rules: TargetingRules) -> dict[str, bool]:
    """Per score: do more points mean poorer (the categories ask for a score at least something)?"""
    direction: dict[str, bool] = {}
    for outcome in rules.outcomes:
        for condition in outcome.when:
            for score_id in condition.score_at_least:
                direction.setdefault(score_id, True)
            for score_id in condition.score_at_most:
                direction.setdefault(score_id, False)
    return direction


def _true_line(rules: TargetingRules) -> int:
    if rules.income is None or not rules.lines:
        return DEFAULT_TRUE_LINE
    per_year = 12 if rules.income.period == "month" else 1
    return min(line.per_person for line in rules.lines) * per_year


def generate(
    rules: TargetingRules, households: int, *, seed: int = 1, areas: int = 10, poor_share: float = 0.3
) -> SyntheticHouseholds:
    random = np.random.default_rng(seed)
    true_line = _true_line(rules)
    # log consumption: poor_share of households fall under the line
    sigma = 0.6
    quantile = float(np.quantile(random.standard_normal(100_000), poor_share))
    mu = float(np.log(float(true_line))) - sigma * quantile
    welfare = random.standard_normal(households)
    consumption = np.exp(mu + sigma * welfare).astype(np.int64)
    area_index = random.integers(0, areas, households)
    area_types = np.array(rules.area_types)[random.integers(0, len(rules.area_types), households)]
    columns: dict[str, np.ndarray] = {
        "household": np.char.add("H", np.arange(1, households + 1).astype(str)),
        "area": np.char.add("A", area_index.astype(str)),
        "area_type": area_types,
    }
    members = random.integers(1, 9, households)
    columns.update(_answers(rules, random, welfare, consumption, members, area_types))
    columns["true_consumption"] = consumption
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    return SyntheticHouseholds(table=table, true_line=true_line)


def answers_following(
    rules: TargetingRules,
    *,
    consumption: np.ndarray,
    members: np.ndarray,
    area_types: np.ndarray,
    seed: int = 1,
) -> dict[str, np.ndarray]:
    """Answers of known households to the rules' questionnaire, one text column per item ("" where the
    item is not asked of the household's area type), drawn with noise from each household's true
    ``consumption`` (minor units per person and year) and its ``members``, as in the field."""
    random = np.random.default_rng(seed)
    logged = np.log(np.maximum(consumption, 1).astype(float))
    spread = float(logged.std()) or 1.0
    welfare = (logged - float(logged.mean())) / spread
    return _answers(rules, random, welfare, consumption.astype(np.int64), members.astype(np.int64), area_types)


def _answers(
    rules: TargetingRules,
    random: np.random.Generator,
    welfare: np.ndarray,
    consumption: np.ndarray,
    members: np.ndarray,
    area_types: np.ndarray,
) -> dict[str, np.ndarray]:
    households = len(welfare)
    columns: dict[str, np.ndarray] = {}
    direction = _poor_is_high(rules)
    for item in rules.items:
        noisy = welfare + random.standard_normal(households) * 0.8  # what the answers see of welfare
        if rules.income is not None and item.id == rules.income.members_item:
            values = members.astype(str)
        elif rules.income is not None and item.id == rules.income.item:
            per_period = 12 if rules.income.period == "month" else 1
            reported = consumption * members * np.exp(random.standard_normal(households) * 0.3) / per_period
            values = _money_texts(reported.astype(np.int64), rules.minor_digits)
        elif item.type in ("choice", "yes_no"):
            values = np.array(_ordered_options(rules, item, direction))[_bins(noisy, len(item.options))]
        elif item.type == "number":
            low = item.minimum if item.minimum is not None else 0
            high = min(item.maximum if item.maximum is not None else low + 10, low + 10)
            spread = _bins(-noisy if _weighted_to_poor(rules, item, direction) else noisy, high - low + 1)
            values = (spread + low).astype(str)
        else:
            values = _money_texts(consumption, rules.minor_digits)
        columns[item.id] = np.where(_asked(item, area_types), values, "")
    return columns


def _asked(item: Item, area_types: np.ndarray) -> np.ndarray:
    if not item.area_types:
        return np.ones(len(area_types), dtype=bool)
    return np.isin(area_types, list(item.area_types))


def _bins(values: np.ndarray, count: int) -> np.ndarray:
    """0 (poorest) .. count-1 (richest) by quantiles of ``values``."""
    if count <= 1:
        return np.zeros(len(values), dtype=np.int64)
    edges = np.quantile(values, np.linspace(0, 1, count + 1)[1:-1])
    return np.searchsorted(edges, values).astype(np.int64)


def _ordered_options(rules: TargetingRules, item: Item, direction: dict[str, bool]) -> list[str]:
    """The item's options from poorest to richest."""
    for score in rules.scores:
        points = score.points.get(item.id)
        if points:
            poor_high = direction.get(score.id, True)
            return sorted(item.options, key=lambda option: -points.get(option, Decimal(0)) * (1 if poor_high else -1))
    for deprivation in rules.deprivations:
        if deprivation.item == item.id and deprivation.deprived:
            return [o for o in item.options if o in deprivation.deprived] + [
                o for o in item.options if o not in deprivation.deprived
            ]
    return list(item.options)


def _weighted_to_poor(rules: TargetingRules, item: Item, direction: dict[str, bool]) -> bool:
    for score in rules.scores:
        weight = score.weights.get(item.id)
        if weight is not None:
            return (weight > 0) == direction.get(score.id, True)
    return False  # a deprivation counts low numbers: the poorer answer lower


def _money_texts(minor: np.ndarray, digits: int) -> np.ndarray:
    if digits == 0:
        return minor.astype(str)
    scale = 10**digits
    whole = (minor // scale).astype(str)
    fraction = np.char.zfill((minor % scale).astype(str), digits)
    return np.char.add(np.char.add(whole, "."), fraction)
