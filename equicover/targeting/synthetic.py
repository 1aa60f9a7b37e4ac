"""Synthetic households for any targeting rules: answers that follow a hidden true consumption.

Used by the benchmark, the quality page, the demo's round of identification and the tests: each
household has an area type, a true consumption per person and year (minor units) and answers drawn
from it, as a proxy-means survey's answers follow consumption in the field:

- the *eligibility line* of a household is the highest income line of its area type (of any area
  type when the rules set none for it): under it, the household is eligible for one of the rules'
  categories, i.e. truly poor; rules without an income line rank households only, and the caller
  gives the line (a share of the population);
- the household's position is its log consumption against that line, in standard deviations of
  log consumption; each answer sees the position plus its own normal noise (``noise``, the same
  unit), mapped to (0, 1) and cut into the item's options ordered from poorest to richest (by the
  points a score gives them, deprived options first), or into the range of a number item;
- the mapping is anchored on the rules themselves: at the line, a household answers exactly at
  the point where the rules' decision turns (found by scoring every distinct answer profile
  once). So with ``noise=0`` the rules identify exactly the households under their own line, and
  the errors come from the noise of the answers alone, growing with it;
- ``members``-like items are the household's members; the income item is consumption x members for
  the income period, with log-normal reporting noise (``income_noise``);
- items that no score or deprivation reads are drawn the same way (they do not decide anything).

Everything is vectorised with numpy (a million households take a few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa

from equicover.targeting.rules import NOT_IDENTIFIED, Item, TargetingRules
from equicover.targeting.scoring import score_answers

# The true poverty line, per person and year, when the rules have no income line: the
# consumption scale is arbitrary then, and only the ranking matters.
DEFAULT_TRUE_LINE = 1_000_000
# What one answer sees of a household's welfare: the standard deviation of its noise, in standard
# deviations of log consumption. An assumption (see docs/synthetic-province.md): with it, the shipped
# rules' errors on synthetic households fall in the range published proxy-means evaluations report.
ANSWER_NOISE = 0.8
# Reporting noise of a declared income (standard deviation of its log).
INCOME_NOISE = 0.3
# Spread of log consumption per person of the benchmark's households.
SIGMA = 0.6


@dataclass(frozen=True, slots=True)
class SyntheticHouseholds:
    # household, area, area_type, the items (text), true_consumption (minor units/person/year),
    # true_line (the household's eligibility line, same units)
    table: pa.Table
    true_line: int  # the highest eligibility line (minor units per person and year)


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


def eligibility_lines(rules: TargetingRules, area_types: np.ndarray) -> np.ndarray | None:
    """Per household, the consumption per person and year (the rules' minor units) under which it
    is eligible for one of the rules' categories: the highest line of its area type, or of any area
    type when the rules set none for it. None for rules without an income line."""
    if rules.income is None or not rules.lines:
        return None
    per_year = 12 if rules.income.period == "month" else 1
    lines = np.zeros(len(area_types), dtype=np.int64)
    for kind in set(np.asarray(area_types).astype(str).tolist()):
        amounts = [line.per_person for line in rules.lines if line.area_type == kind] or [
            line.per_person for line in rules.lines
        ]
        lines[np.asarray(area_types).astype(str) == kind] = max(amounts) * per_year
    return lines


def generate(
    rules: TargetingRules,
    households: int,
    *,
    seed: int = 1,
    areas: int = 10,
    poor_share: float = 0.3,
    noise: float = ANSWER_NOISE,
    income_noise: float = INCOME_NOISE,
) -> SyntheticHouseholds:
    """``households`` synthetic households, ``poor_share`` of each area type under its eligibility line."""
    random = np.random.default_rng(seed)
    area_index = random.integers(0, areas, households)
    area_types = np.array(rules.area_types)[random.integers(0, len(rules.area_types), households)]
    lines = eligibility_lines(rules, area_types)
    if lines is None:
        lines = np.full(households, DEFAULT_TRUE_LINE, dtype=np.int64)
    quantile = float(np.quantile(random.standard_normal(100_000), poor_share))
    welfare = random.standard_normal(households)
    consumption = (lines * np.exp(SIGMA * (welfare - quantile))).astype(np.int64)
    members = random.integers(1, 9, households)
    columns: dict[str, np.ndarray] = {
        "household": np.char.add("H", np.arange(1, households + 1).astype(str)),
        "area": np.char.add("A", area_index.astype(str)),
        "area_type": area_types,
    }
    columns.update(
        _answers(rules, random, consumption, lines, members, area_types, noise=noise, income_noise=income_noise)
    )
    columns["true_consumption"] = consumption
    columns["true_line"] = lines
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    return SyntheticHouseholds(table=table, true_line=int(lines.max()))


def answers_following(
    rules: TargetingRules,
    *,
    consumption: np.ndarray,
    members: np.ndarray,
    area_types: np.ndarray,
    true_line: np.ndarray,
    seed: int = 1,
    noise: float = ANSWER_NOISE,
    income_noise: float = INCOME_NOISE,
) -> dict[str, np.ndarray]:
    """Answers of known households to the rules' questionnaire, one text column per item ("" where the
    item is not asked of the household's area type), drawn with noise from each household's true
    ``consumption`` (the rules' minor units per person and year) against its ``true_line`` (same
    units: :func:`eligibility_lines`, or a share of the population for rules without a line) and its
    ``members``, as in the field."""
    random = np.random.default_rng(seed)
    return _answers(
        rules,
        random,
        consumption.astype(np.int64),
        np.asarray(true_line, dtype=np.int64),
        members.astype(np.int64),
        np.asarray(area_types).astype(str),
        noise=noise,
        income_noise=income_noise,
    )


def _positions(consumption: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Log consumption against the line, in standard deviations of log consumption (0 at the line)."""
    logged = np.log(np.maximum(consumption, 1).astype(float))
    spread = float(logged.std()) or 1.0
    return (logged - np.log(np.maximum(lines, 1).astype(float))) / spread


def _logit(share: float) -> float:
    return float(np.log(share / (1.0 - share)))


def _answers(
    rules: TargetingRules,
    random: np.random.Generator,
    consumption: np.ndarray,
    lines: np.ndarray,
    members: np.ndarray,
    area_types: np.ndarray,
    *,
    noise: float,
    income_noise: float,
) -> dict[str, np.ndarray]:
    households = len(consumption)
    position = _positions(consumption, lines)
    # Where, in (0, 1), a household at its line answers: the rules' turning point for its area type.
    anchor = np.zeros(households, dtype=float)
    for kind in set(area_types.tolist()):
        at_line = int(lines[area_types == kind].max()) if (area_types == kind).any() else 0
        anchor[area_types == kind] = _logit(_turning_point(rules, kind, at_line))
    direction = _poor_is_high(rules)
    columns: dict[str, np.ndarray] = {}
    for item in rules.items:
        seen = position + random.standard_normal(households) * noise
        share = 1.0 / (1.0 + np.exp(-(seen + anchor)))  # 0 poorest .. 1 richest
        if rules.income is not None and item.id == rules.income.members_item:
            values = members.astype(str)
        elif rules.income is not None and item.id == rules.income.item:
            per_period = 12 if rules.income.period == "month" else 1
            reported = consumption * members * np.exp(random.standard_normal(households) * income_noise) / per_period
            values = _money_texts(reported.astype(np.int64), rules.minor_digits)
        elif item.type in ("choice", "yes_no"):
            values = np.array(_ordered_options(rules, item, direction))[_steps(share, len(item.options))]
        elif item.type == "number":
            low, high = _number_range(item)
            step = _steps(share, high - low + 1)
            values = ((high - step) if _weighted_to_poor(rules, item, direction) else (low + step)).astype(str)
        else:
            values = _money_texts(consumption, rules.minor_digits)
        columns[item.id] = np.where(_asked(item, area_types), values, "")
    return columns


def _number_range(item: Item) -> tuple[int, int]:
    low = item.minimum if item.minimum is not None else 0
    high = min(item.maximum if item.maximum is not None else low + 10, low + 10)
    return int(low), int(high)


def _steps(share: np.ndarray, count: int) -> np.ndarray:
    """0 (poorest) .. count-1 (richest): the equal part of (0, 1) ``share`` falls in."""
    if count <= 1:
        return np.zeros(len(share), dtype=np.int64)
    return np.minimum((share * count).astype(np.int64), count - 1)


def _turning_point(rules: TargetingRules, area_type: str, line: int) -> float:
    """The share in (0, 1) under which the answers of a household just under its eligibility
    ``line`` (per person and year) make the rules identify it, and from which they do not.

    Answers change only at the step points k/n of the items; the rules are scored once at the
    middle of each interval between them. Where the answers do not decide (every profile identified,
    or none: only the income does) the middle, 0.5, is returned."""
    direction = _poor_is_high(rules)
    asked = [item for item in rules.items if item.asked_in(area_type)]
    points = {0.0, 1.0}
    for item in asked:
        if rules.income is not None and item.id in (rules.income.item, rules.income.members_item):
            continue
        if item.type in ("choice", "yes_no"):
            count = len(item.options)
        elif item.type == "number":
            low, high = _number_range(item)
            count = high - low + 1
        else:
            continue
        points.update(k / count for k in range(1, count))
    bounds = sorted(points)
    middles = np.array([(a + b) / 2 for a, b in zip(bounds, bounds[1:], strict=False)])
    per_period = 12 if rules.income is not None and rules.income.period == "month" else 1
    income = max(line // per_period - 1, 0)
    rows = []
    for index, share in enumerate(middles):
        row: dict[str, str] = {"household": f"P{index}", "area_type": area_type}
        for item in asked:
            if rules.income is not None and item.id == rules.income.members_item:
                row[item.id] = "1"
            elif rules.income is not None and item.id == rules.income.item:
                row[item.id] = str(_money_texts(np.array([income]), rules.minor_digits)[0])
            elif item.type in ("choice", "yes_no"):
                row[item.id] = _ordered_options(rules, item, direction)[
                    int(_steps(np.array([share]), len(item.options))[0])
                ]
            elif item.type == "number":
                low, high = _number_range(item)
                step = int(_steps(np.array([share]), high - low + 1)[0])
                row[item.id] = str(high - step if _weighted_to_poor(rules, item, direction) else low + step)
            else:
                row[item.id] = str(_money_texts(np.array([income]), rules.minor_digits)[0])
        rows.append(row)
    scored, _ = score_answers(rules, rows)
    identified = {entry.household: entry.category != NOT_IDENTIFIED for entry in scored}
    flags = [identified.get(f"P{index}", False) for index in range(len(middles))]
    if all(flags) or not any(flags):
        return 0.5
    first_not = flags.index(False)
    # identified in the intervals before ``first_not``: the turn is at that interval's lower bound
    return bounds[first_not] if first_not > 0 else 0.5


def _asked(item: Item, area_types: np.ndarray) -> np.ndarray:
    if not item.area_types:
        return np.ones(len(area_types), dtype=bool)
    return np.isin(area_types, list(item.area_types))


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
