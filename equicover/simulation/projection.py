"""Budget projection: contributions, expected payments per layer and each fund's gap, year by year.

A projection file (TOML, ``projections/``) holds the assumptions, each with its source or labelled
as an assumption: the population of each area and its yearly growth, groups of people (by
category) with their share of the population and their enrolment target each year, utilisation
and cost trends by care type, the growth of the contribution, per-capita subsidies paid into a
fund, and which layers each fund pays. The contribution rules and the payer cascade are those of
the policy the file names.

The arithmetic (docs/simulation.md), for year y and t = y - base year, all exact fractions:
- population of an area: people x (1 + growth)^t; enrolled in group g: the sum over areas of
  round(population x population_share_g x enrolled_g(y)) (round half up, whole persons);
- the base year's claims are settled once under the policy; S(g, c, L) is what layer L paid on
  the claims of group g and care type c; E0(g) = round(claims_population x population_share_g x
  enrolled_g(base year)) is the enrolment those claims come from;
- expected payment of layer L: round(sum over g, c of S(g, c, L) x E(g, y) / E0(g) x
  ((1 + utilisation_growth_c) x (1 + cost_growth_c))^t) (payments scale with the number of claims
  and with their cost: deductibles and caps are held at their base-year value, an approximation);
- contributions of payer p: round(sum over g of E(g, y) x part_p(g) x (1 + amount_growth)^t)
  where part_p(g) is p's part of one person's contribution under the policy's rules (a person
  alone: household caps and rank ladders are not applied); per-capita subsidies add
  round(enrolled(y) x amount x (1 + growth)^t) for their payer into their fund;
- a fund's gap: what flows into it minus what its layers pay (negative: money to be found).

Uncertainty: the members of each group are resampled with replacement (bootstrap over E0(g)
people, the ones without a claim included, seeded), S recomputed for every draw, and the payments
and gaps shown as the range between two quantiles of the draws (nearest rank), beside the value
of the base year's own claims.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from equicover.money import round_half_up
from equicover.settlement.contributions import ContributionMember, compute_contributions
from equicover.settlement.loader import load_policy
from equicover.settlement.model import Policy
from equicover.simulation.data_files import DataFileError, DataProblem, TomlReader
from equicover.simulation.engine import MemberSums

TOP_KEYS = ("projection", "bootstrap", "area", "group", "care_type", "contribution", "per_capita_subsidy", "fund")
HEADER_KEYS = ("id", "name", "policy", "base_year", "base_claims", "claims_population", "source")
BOOTSTRAP_KEYS = ("draws", "seed", "range")
AREA_KEYS = ("id", "people", "growth", "note")
GROUP_KEYS = ("name", "categories", "population_share", "enrolled", "note")
CARE_KEYS = ("name", "utilisation_growth", "cost_growth", "note")
CONTRIBUTION_KEYS = ("amount_growth", "note")
SUBSIDY_KEYS = ("payer", "amount", "growth", "fund", "note")
FUND_KEYS = ("name", "layers", "contributions", "note")
MAX_DRAWS = 10_000
MAX_YEARS = 50
MINUS_ONE = Fraction(-1)


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    people: int
    growth: Fraction


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    categories: tuple[str, ...]  # () = everyone not in an earlier group
    population_share: Fraction
    enrolled: dict[int, Fraction]  # year -> share of the group enrolled

    def enrolled_in(self, year: int) -> Fraction:
        """The target of ``year``, or of the latest earlier year that has one."""
        known = [y for y in self.enrolled if y <= year]
        return self.enrolled[max(known)] if known else Fraction(0)


@dataclass(frozen=True, slots=True)
class CareTrend:
    utilisation_growth: Fraction
    cost_growth: Fraction


@dataclass(frozen=True, slots=True)
class PerCapitaSubsidy:
    payer: str
    amount: int
    growth: Fraction
    fund: str


@dataclass(frozen=True, slots=True)
class Fund:
    name: str
    items: tuple[str, ...]  # layer ids (and allowance ids) whose payments it makes
    contributions: bool  # the members' contributions and their subsidies flow into it


@dataclass(frozen=True, slots=True)
class Projection:
    id: str
    name: str
    path: str
    policy: Policy
    base_year: int
    base_claims: str | None
    claims_population: int
    source: str
    draws: int
    seed: int
    low: Fraction
    high: Fraction
    areas: tuple[Area, ...]
    groups: tuple[Group, ...]
    trends: dict[str, CareTrend]
    amount_growth: Fraction
    subsidies: tuple[PerCapitaSubsidy, ...]
    funds: tuple[Fund, ...]


def load_projection(path: str | Path) -> Projection:
    """A projection file, or :class:`DataFileError` with every problem's line and key (a policy
    it names that fails ``policy check`` raises the loader's ``PolicyError``)."""
    path = Path(path)
    reader = TomlReader(path)
    document = reader.document
    reader.keys(document, (), TOP_KEYS, ("projection", "area", "group", "fund"))
    header = reader.table(document.get("projection", {}), ("projection",))
    reader.keys(
        header, ("projection",), HEADER_KEYS, ("id", "name", "policy", "base_year", "claims_population", "source")
    )
    reader.raise_problems()
    policy = load_policy(path.parent / reader.text_value(header, "policy", ("projection",)))
    digits = policy.minor_digits
    base_year = reader.whole(header, "base_year", ("projection",), minimum=1900)
    base_claims = header.get("base_claims")
    if base_claims is not None and not isinstance(base_claims, str):
        reader.problem(("projection", "base_claims"), "must be a claims file path or stored:YEAR")
        base_claims = None
    if isinstance(base_claims, str) and not base_claims.startswith("stored:"):
        base_claims = str(path.parent / base_claims)

    bootstrap = reader.table(document.get("bootstrap", {}), ("bootstrap",))
    reader.keys(bootstrap, ("bootstrap",), BOOTSTRAP_KEYS, ())
    draws = reader.whole(bootstrap, "draws", ("bootstrap",), minimum=1) if "draws" in bootstrap else 200
    if draws > MAX_DRAWS:
        reader.problem(("bootstrap", "draws"), f"at most {MAX_DRAWS} draws")
    seed = reader.whole(bootstrap, "seed", ("bootstrap",)) if "seed" in bootstrap else 1
    low, high = Fraction(5, 100), Fraction(95, 100)
    if "range" in bootstrap:
        bounds = bootstrap["range"]
        if not isinstance(bounds, list) or len(bounds) != 2:
            reader.problem(("bootstrap", "range"), "must be two quantiles like [0.05, 0.95]")
        else:
            low = reader.rate(bounds[0], ("bootstrap", "range", 0), low=Fraction(0), high=Fraction(1), what="quantile")
            high = reader.rate(bounds[1], ("bootstrap", "range", 1), low=Fraction(0), high=Fraction(1), what="quantile")
            if not 0 < low < high <= 1:
                reader.problem(("bootstrap", "range"), "the quantiles must satisfy 0 < low < high <= 1")

    areas = []
    for area_path, table in reader.tables(document.get("area", []), ("area",)):
        reader.keys(table, area_path, AREA_KEYS, ("id", "people", "growth"))
        growth = reader.rate(table.get("growth"), area_path + ("growth",), low=MINUS_ONE, high=None, what="growth")
        areas.append(Area(reader.text_value(table, "id", area_path), reader.whole(table, "people", area_path), growth))

    groups = []
    catch_all = 0
    for group_path, table in reader.tables(document.get("group", []), ("group",)):
        reader.keys(table, group_path, GROUP_KEYS, ("name", "categories", "population_share", "enrolled"))
        categories = table.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) and c.strip() for c in categories):
            reader.problem(group_path + ("categories",), "must be an array of category names ([] = everyone else)")
            categories = []
        if not categories:
            catch_all += 1
            if catch_all > 1:
                reader.problem(group_path + ("categories",), "only one group may be everyone else (categories = [])")
        share = reader.rate(
            table.get("population_share"),
            group_path + ("population_share",),
            low=Fraction(0),
            high=Fraction(1),
            what="population_share",
        )
        enrolled: dict[int, Fraction] = {}
        targets = reader.table(table.get("enrolled", {}), group_path + ("enrolled",))
        for year_text, value in targets.items():
            key_path = group_path + ("enrolled", year_text)
            if not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
                reader.problem(key_path, "the keys of `enrolled` are years like 2026")
                continue
            enrolled[int(year_text)] = reader.rate(
                value, key_path, low=Fraction(0), high=Fraction(1), what="enrolment share"
            )
        if base_year not in enrolled:
            reader.problem(
                group_path + ("enrolled",), f"needs the base year {base_year}: the enrolment the claims come from"
            )
        groups.append(Group(reader.text_value(table, "name", group_path), tuple(categories), share, enrolled))
    total_share = sum((group.population_share for group in groups), Fraction(0))
    if total_share > 1:
        reader.problem(("group",), f"the groups' population shares add up to {float(total_share) * 100:g}%, over 100%")

    trends: dict[str, CareTrend] = {care: CareTrend(Fraction(0), Fraction(0)) for care in policy.care_types}
    for care_path, table in reader.tables(document.get("care_type", []), ("care_type",)):
        reader.keys(table, care_path, CARE_KEYS, ("name",))
        name = reader.text_value(table, "name", care_path)
        if name and name not in policy.care_types:
            reader.problem(care_path + ("name",), f"{name!r} is not a care type of {policy.id}")
        utilisation = reader.rate(
            table.get("utilisation_growth", 0), care_path + ("utilisation_growth",), low=MINUS_ONE, high=None,
            what="utilisation_growth",
        )  # fmt: skip
        cost = reader.rate(
            table.get("cost_growth", 0), care_path + ("cost_growth",), low=MINUS_ONE, high=None, what="cost_growth"
        )
        trends[name] = CareTrend(utilisation, cost)

    contribution = reader.table(document.get("contribution", {}), ("contribution",))
    reader.keys(contribution, ("contribution",), CONTRIBUTION_KEYS, ())
    amount_growth = reader.rate(
        contribution.get("amount_growth", 0), ("contribution", "amount_growth"), low=MINUS_ONE, high=None,
        what="amount_growth",
    )  # fmt: skip

    funds = []
    items = [layer.id for layer in policy.layers] + [allowance.id for allowance in policy.allowances]
    owner: dict[str, str] = {}
    for fund_path, table in reader.tables(document.get("fund", []), ("fund",)):
        reader.keys(table, fund_path, FUND_KEYS, ("name", "layers"))
        name = reader.text_value(table, "name", fund_path)
        layers = table.get("layers", [])
        if not isinstance(layers, list) or not all(isinstance(item, str) for item in layers):
            reader.problem(fund_path + ("layers",), "must be an array of layer ids")
            layers = []
        for index, item in enumerate(layers):
            if item not in items:
                reader.problem(fund_path + ("layers", index), f"{item!r} is not a layer or allowance of {policy.id}")
            elif item in owner:
                reader.problem(fund_path + ("layers", index), f"{item!r} is already paid by the fund {owner[item]!r}")
            else:
                owner[item] = name
        takes = table.get("contributions", False)
        if not isinstance(takes, bool):
            reader.problem(fund_path + ("contributions",), "must be true or false")
            takes = False
        funds.append(Fund(name, tuple(layers), takes))
    for item in items:
        if item not in owner:
            reader.problem(("fund",), f"the layer {item!r} of {policy.id} is paid by no fund")
    if sum(fund.contributions for fund in funds) > 1:
        reader.problem(("fund",), "only one fund may take the contributions (contributions = true)")

    subsidies = []
    fund_names = {fund.name for fund in funds}
    for subsidy_path, table in reader.tables(document.get("per_capita_subsidy", []), ("per_capita_subsidy",)):
        reader.keys(table, subsidy_path, SUBSIDY_KEYS, ("payer", "amount", "fund"))
        fund_name = reader.text_value(table, "fund", subsidy_path)
        if fund_name and fund_name not in fund_names:
            reader.problem(subsidy_path + ("fund",), f"no fund is named {fund_name!r}")
        subsidies.append(
            PerCapitaSubsidy(
                reader.text_value(table, "payer", subsidy_path),
                reader.money(table, "amount", subsidy_path, digits),
                reader.rate(
                    table.get("growth", 0), subsidy_path + ("growth",), low=MINUS_ONE, high=None, what="growth"
                ),
                fund_name,
            )
        )
    projection = Projection(
        id=reader.text_value(header, "id", ("projection",)),
        name=reader.text_value(header, "name", ("projection",)),
        path=str(path),
        policy=policy,
        base_year=base_year,
        base_claims=base_claims,
        claims_population=reader.whole(header, "claims_population", ("projection",), minimum=1),
        source=reader.text_value(header, "source", ("projection",)),
        draws=draws,
        seed=seed,
        low=low,
        high=high,
        areas=tuple(areas),
        groups=tuple(groups),
        trends=trends,
        amount_growth=amount_growth,
        subsidies=tuple(subsidies),
        funds=tuple(funds),
    )
    reader.raise_problems()
    return projection


def parse_years(text: str, base_year: int) -> range:
    """``2026-2030`` or ``2026``: years after the base year."""
    first, _, last = text.strip().partition("-")
    try:
        years = range(int(first), int(last or first) + 1)
    except ValueError:
        raise DataFileError([DataProblem("--years", 1, "years", f"{text!r} is not YEAR or YEAR-YEAR")]) from None
    if not years or years.start <= base_year or len(years) > MAX_YEARS:
        message = f"{text!r}: give up to {MAX_YEARS} years, in order, after the base year {base_year}"
        raise DataFileError([DataProblem("--years", 1, "years", message)])
    return years


@dataclass(frozen=True, slots=True)
class Estimate:
    point: int  # from the base year's own claims
    low: int
    high: int


@dataclass(slots=True)
class ProjectedYear:
    year: int
    population: int
    enrolled: dict[str, int]  # group -> persons
    contributions: dict[str, int]  # payer -> minor units
    fund_in: dict[str, int]
    payments: dict[str, Estimate]  # layer or allowance id
    fund_payments: dict[str, Estimate]
    gap: dict[str, Estimate]


@dataclass(slots=True)
class ProjectionResult:
    projection: Projection
    base_enrolled: dict[str, int]
    years: list[ProjectedYear]
    settled: int
    rejected: int
    outside_groups: int
    notes: list[str]


def _round(value: Fraction) -> int:
    return round_half_up(value.numerator, value.denominator)


def _power(rate: Fraction, t: int) -> Fraction:
    return (1 + rate) ** t


def _nearest_rank(values: list[int], quantile: Fraction) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


def _enrolled(projection: Projection, year: int) -> tuple[int, dict[str, int]]:
    t = year - projection.base_year
    population = 0
    enrolled = {}
    people = [area.people * _power(area.growth, t) for area in projection.areas]
    population = sum(_round(value) for value in people)
    for group in projection.groups:
        share = group.population_share * group.enrolled_in(year)
        enrolled[group.name] = sum(_round(value * share) for value in people)
    return population, enrolled


def _parts(projection: Projection) -> dict[str, dict[str, int]]:
    """Each group's one-person contribution by payer, under the policy's rules."""
    rules = projection.policy.contribution
    if rules is None:
        return {group.name: {} for group in projection.groups}
    parts = {}
    for group in projection.groups:
        member = ContributionMember("household", "person", frozenset(group.categories))
        parts[group.name] = {row.payer: row.amount for row in compute_contributions(rules, [member])}
    return parts


def project(
    projection: Projection, sums: MemberSums, years: range, *, counted: Sequence[int] | None = None
) -> ProjectionResult:
    """The projection of the module docstring over ``years``. ``counted``: each group's enrolment
    in the base year counted elsewhere (the registry, for stored claims) instead of E0(g) from
    ``claims_population``."""
    policy = projection.policy
    items = [layer.id for layer in policy.layers] + [allowance.id for allowance in policy.allowances]
    cares = list(policy.care_types)
    groups = projection.groups
    cell_count = len(groups) * len(cares)
    base_enrolled = {
        group.name: _round(
            projection.claims_population * group.population_share * group.enrolled_in(projection.base_year)
        )
        for group in groups
    }
    if counted is not None:
        base_enrolled = {group.name: int(count) for group, count in zip(groups, counted, strict=True)}
    # one row per (member, group) unit: the sums of its claims per (group, care type, item) cell
    units = int(sums.unit.max()) + 1 if len(sums.unit) else 0
    matrix = np.zeros((units, cell_count * len(items)), dtype=np.int64)
    cells = sums.group * len(cares) + sums.care
    for i in range(len(items)):
        matrix[sums.unit, cells * len(items) + i] = sums.values[:, i]
    groups_of_units = np.zeros(units, dtype=np.int64)
    groups_of_units[sums.unit] = sums.group
    problems = []
    for index, group in enumerate(groups):
        claimants = int((groups_of_units == index).sum())
        if claimants > base_enrolled[group.name]:
            problems.append(
                DataProblem(
                    projection.path,
                    1,
                    f"group[{index}]",
                    f"the base year has {claimants} members with claims in group {group.name!r}, more than the "
                    f"{base_enrolled[group.name]} enrolled people the projection gives it (claims_population x "
                    "population_share x enrolled)",
                )
            )
    if problems:
        raise DataFileError(problems)

    point = [int(v) for v in matrix.sum(axis=0)]
    draws = _bootstrap(projection, matrix, groups_of_units, base_enrolled)

    notes = [
        "payments scale with enrolment, utilisation and cost; deductibles and caps stay at their base-year value",
        f"range: quantiles {float(projection.low):g} and {float(projection.high):g} of {projection.draws} bootstrap "
        f"draws of the base year's members (seed {projection.seed})",
    ]
    if policy.contribution is None:
        notes.append(f"{policy.id} has no contribution rules: contributions are the per-capita subsidies only")
    elif policy.contribution.household_cap is not None or len(policy.contribution.rank_factors) > 1:
        notes.append("contributions count persons: household caps and rank ladders are not applied")
    parts = _parts(projection)
    result_years = []
    for year in years:
        t = year - projection.base_year
        population, enrolled = _enrolled(projection, year)
        total_enrolled = sum(enrolled.values())
        growth = _power(projection.amount_growth, t)
        owed: dict[str, Fraction] = defaultdict(Fraction)
        for group in groups:
            for payer, amount in parts[group.name].items():
                owed[payer] += enrolled[group.name] * amount * growth
        contributions = {payer: _round(value) for payer, value in owed.items()}
        fund_in = {fund.name: (sum(contributions.values()) if fund.contributions else 0) for fund in projection.funds}
        for subsidy in projection.subsidies:
            amount = _round(total_enrolled * subsidy.amount * _power(subsidy.growth, t))
            contributions[subsidy.payer] = contributions.get(subsidy.payer, 0) + amount
            fund_in[subsidy.fund] += amount
        factors: list[Fraction] = []
        for group in groups:
            scale = (
                Fraction(enrolled[group.name], base_enrolled[group.name]) if base_enrolled[group.name] else Fraction(0)
            )
            for care in cares:
                trend = projection.trends[care]
                factors.append(scale * _power(trend.utilisation_growth, t) * _power(trend.cost_growth, t))
        point_payments = _scaled(point, factors, items)
        draw_payments = [_scaled(draw, factors, items) for draw in draws]
        payments = {
            item: Estimate(
                point_payments[item],
                _nearest_rank([d[item] for d in draw_payments], projection.low),
                _nearest_rank([d[item] for d in draw_payments], projection.high),
            )
            for item in items
        }
        fund_payments, gap = {}, {}
        for fund in projection.funds:
            spent = [sum(d[item] for item in fund.items) for d in draw_payments]
            point_spent = sum(point_payments[item] for item in fund.items)
            low_spent, high_spent = _nearest_rank(spent, projection.low), _nearest_rank(spent, projection.high)
            fund_payments[fund.name] = Estimate(point_spent, low_spent, high_spent)
            inflow = fund_in[fund.name]
            gap[fund.name] = Estimate(inflow - point_spent, inflow - high_spent, inflow - low_spent)
        result_years.append(
            ProjectedYear(year, population, enrolled, contributions, fund_in, payments, fund_payments, gap)
        )
    return ProjectionResult(
        projection=projection,
        base_enrolled=base_enrolled,
        years=result_years,
        settled=sums.settled,
        rejected=sums.rejected,
        outside_groups=sums.outside_groups,
        notes=notes,
    )


def _scaled(sums: list[int], factors: list[Fraction], items: list[str]) -> dict[str, int]:
    """round(sum over cells of sums[cell, item] x factors[cell]) for each item, exactly: the
    factors over one common denominator."""
    denominator = math.lcm(*(f.denominator for f in factors)) if factors else 1
    weights = [f.numerator * (denominator // f.denominator) for f in factors]
    width = len(items)
    return {
        item: round_half_up(sum(sums[cell * width + i] * weight for cell, weight in enumerate(weights)), denominator)
        for i, item in enumerate(items)
    }


# Draws multiplied together: a block of draws x units weights against units x cells sums.
_DRAWS_PER_BLOCK = 25
_SPLIT = 1 << 26
# Below this many enrolled people a draw's split sums stay under 2**53 (see _bootstrap).
FLOAT_EXACT_PEOPLE = 1 << 27


def _bootstrap(
    projection: Projection, matrix: np.ndarray, groups_of_units: np.ndarray, base_enrolled: dict[str, int]
) -> list[list[int]]:
    """The cell sums of each draw: each group's E0 people drawn with replacement from its
    claimants and the people without a claim, integer counts times integer sums.

    Exact in floating point: every sum is split as high x 2**26 + low with both parts below
    2**26 in size, so a draw's products add up to less than (enrolled people) x 2**26 < 2**53
    for fewer than 2**27 enrolled people; beyond that, or sums past 2**52, integers are used."""
    rng = np.random.default_rng(projection.seed)
    width = matrix.shape[1] // max(1, len(projection.groups))
    enrolled = sum(base_enrolled.values())
    exact_in_floats = enrolled < FLOAT_EXACT_PEOPLE and (matrix.size == 0 or int(np.abs(matrix).max()) < (1 << 52))
    totals = np.zeros((projection.draws, matrix.shape[1]), dtype=object)
    for g, group in enumerate(projection.groups):
        members = np.flatnonzero(groups_of_units == g)
        people, claimants = base_enrolled[group.name], len(members)
        if people == 0 or claimants == 0:
            continue
        # a group's own cells only (its members have nothing elsewhere), and of those the ones
        # some claim paid into (an allowance of inpatients only is zero for every other care type)
        own = np.arange(g * width, (g + 1) * width)
        own = own[np.any(matrix[members][:, own] != 0, axis=0)]
        block_of = matrix[np.ix_(members, own)]
        if exact_in_floats:
            high = np.floor_divide(block_of, _SPLIT).astype(np.float64)
            low = np.remainder(block_of, _SPLIT).astype(np.float64)
        for first in range(0, projection.draws, _DRAWS_PER_BLOCK):
            rows = range(first, min(projection.draws, first + _DRAWS_PER_BLOCK))
            # `people` draws with replacement among the group's enrolled, of whom `claimants` had
            # claims: how many draws land on a claimant is binomial, and those are uniform among them
            weights = np.stack(
                [
                    np.bincount(
                        rng.integers(0, claimants, size=rng.binomial(people, claimants / people)),
                        minlength=claimants,
                    )
                    for _ in rows
                ]
            )
            if exact_in_floats:
                as_floats = weights.astype(np.float64)
                highs = np.rint(as_floats @ high).astype(np.int64).astype(object)
                lows = np.rint(as_floats @ low).astype(np.int64).astype(object)
                sums = highs * _SPLIT + lows
            else:
                sums = (weights @ block_of).astype(object)
            totals[first : rows.stop, own] = sums
    return [[int(value) for value in row] for row in totals]
