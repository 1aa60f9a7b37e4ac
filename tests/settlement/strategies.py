"""Hypothesis strategies for settlement: random valid policies (as TOML text) and random claims.

Policies are drawn as a plain dict shaped like the TOML file (``{"policy": {...}, "layer": [...]}``)
and rendered with :func:`render_toml`, so every example also goes through the policy loader.
Amounts are small integers of minor units drawn largely from one small per-example pool shared by
band ends, caps, fees and claim amounts, so that claims land exactly on band edges and caps often.
Examples stay small so that a shrunk counterexample can be read and worked by hand.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from equicover.money import ISO_4217_EXPONENTS, format_money
from equicover.settlement.model import CONDITION_KEYS, Claim

# names as analysts write them, quotes and non-ASCII included (they end up in SQL literals and CSV)
LEVEL_POOL = ("township", "county", "city", "province", "trạm y tế xã")
CARE_TYPE_POOL = ("outpatient", "inpatient", "chronic_outpatient", "soins d'urgence")
CATEGORY_POOL = ("registered_poor", "near_poor", "hộ nghèo", "pupille de l'État")
# principal diagnoses of claims, and the ICD-10 prefixes groups and `diagnosis` conditions use:
# some prefixes match several codes, some none.
DIAGNOSIS_POOL = ("E11.9", "E10", "I10", "K35.8", "N18.3", "J18.9", "A09", "C50.1")
PREFIX_POOL = ("E1", "E11", "I10", "K35", "N18", "C", "O80", "J")
GROUP_NAME_POOL = ("chronic", "appendicitis", "cancer", "renal")
# a few ratios that matter in real programmes and for rounding (halves), then arbitrary 6-digit ones
RATIO_POOL = ("0", "1", "0.5", "0.9", "0.75", "0.85", "0.333333", "0.125", "0.000001", "0.999999")
# (currency, explicit minor_digits or None): 2 and 0 digits (and the dinar's 3), by ISO exponent
# and by override
CURRENCIES = (("CNY", None), ("VND", None), ("XOF", None), ("USD", 2), ("KHR", 0), ("MAD", 2), ("TND", None))

MAX_CLAIMS = 150
MAX_CLAIMS_PER_MEMBER = 40


# --------------------------------------------------------------------------------------------
# A tiny deterministic TOML emitter for the subset policies use.


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    escaped = []
    for char in text:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        # ratios: written as the analyst would type them, `0.90` or `1`; exact through tomllib
        text = format(value, "f")
        return text
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


# inside a table, these lists of tables are written as nested arrays of tables (`[[layer.variant]]`);
# every other list of tables (a `when` list, `bands`) is written inline
NESTED_TABLE_ARRAYS = frozenset({"variant"})


def _is_table_array(key: str, value: Any) -> bool:
    return key in NESTED_TABLE_ARRAYS and isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _emit_table(lines: list[str], header: str | None, table: dict[str, Any], *, array: bool) -> None:
    """Scalars and inline values first, then sub-tables and arrays of tables (TOML's rule)."""
    if header is not None:
        if lines:
            lines.append("")
        lines.append(f"[[{header}]]" if array else f"[{header}]")
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        if header is not None and _is_table_array(key, value):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in nested:
        for item in value:
            _emit_table(lines, f"{header}.{_toml_key(key)}", item, array=True)


def render_toml(document: dict[str, Any]) -> str:
    """Render a policy-shaped dict as TOML text.

    Top-level values must be tables (dicts) or arrays of tables (lists of dicts); inside a table,
    a list of dicts becomes a nested array of tables (``[[layer.variant]]``) and a dict an inline
    table. Scalars: str, bool, int, ``Decimal`` (written as a TOML number), ``date``.
    """
    lines: list[str] = []
    for key, value in document.items():
        if isinstance(value, dict):
            _emit_table(lines, _toml_key(key), value, array=False)
        elif isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    raise TypeError(f"top-level array {key!r} must hold tables")
                _emit_table(lines, _toml_key(key), item, array=True)
        else:
            raise TypeError(f"top-level key {key!r} must be a table or an array of tables")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Policies
#
# Strategies that depend on the drawn policy (its levels, care types, amount pool) are built once
# per example in a `_Context` and reused for every condition and claim: building strategies per
# draw costs Hypothesis far more than drawing from them.


@dataclass(frozen=True)
class PolicyCase:
    """A drawn policy: its TOML text and what the claims strategy needs to know about it."""

    document: dict[str, Any]
    text: str
    minor_digits: int
    effective_from: date
    effective_to: date  # the last service date drawn; the policy itself may be open-ended
    open_ended: bool  # the policy has no `effective_to`
    year_start: tuple[int, int]
    provider_levels: tuple[str, ...]
    care_types: tuple[str, ...]
    group_names: tuple[str, ...]
    amount_pool: tuple[int, ...]


_BOOLEANS = st.booleans()
_RATIO_FROM_POOL = st.sampled_from(tuple(Decimal(text) for text in RATIO_POOL))
_RATIO_DIGITS = st.integers(1, 6)
_RATIO_MILLIONTHS = st.integers(0, 10**6)


@st.composite
def _any_ratio(draw) -> Decimal:
    digits = draw(_RATIO_DIGITS)
    return Decimal(draw(_RATIO_MILLIONTHS) // 10 ** (6 - digits)).scaleb(-digits)


# three in four ratios are the ones that matter (0, 1, halves, 0.9 ...), the rest arbitrary
ratios = st.one_of(_RATIO_FROM_POOL, _RATIO_FROM_POOL, _RATIO_FROM_POOL, _any_ratio())

amount_pools = st.lists(st.integers(1, 30_000), min_size=1, max_size=5, unique=True).map(
    lambda values: tuple(sorted(values))
)
"""The per-example pool of 'interesting' amounts in minor units: band ends, caps, fees, claims."""


def _sorted_subsets(pool: tuple[Any, ...], max_size: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=min(max_size, len(pool)), unique=True).map(
        lambda chosen: sorted(chosen, key=pool.index)
    )


def _one_or_list(subsets: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    """A condition value is one accepted value or a list of them."""
    return st.tuples(subsets, _BOOLEANS).map(lambda drawn: drawn[0][0] if len(drawn[0]) == 1 and drawn[1] else drawn[0])


class _Context:
    """Strategies for one drawn policy header."""

    def __init__(self, levels, care_types, group_names, pool, minor_digits) -> None:
        self.pool = pool
        self.minor_digits = minor_digits
        near = st.sampled_from(pool)
        # exactly on, just below, just above a pool amount, or anywhere
        self.amount = st.one_of(
            near, near.map(lambda v: max(1, v - 1)), near.map(lambda v: v + 1), st.integers(1, 40_000)
        )
        self.amount_or_zero = st.one_of(st.just(0), self.amount)
        self.money = self.amount.map(self.money_text)
        self.money_or_zero = self.amount_or_zero.map(self.money_text)
        values = {
            "care_type": _one_or_list(_sorted_subsets(care_types, 3)),
            "provider_level": _one_or_list(_sorted_subsets(levels, 3)),
            "designated": _one_or_list(_sorted_subsets((True, False), 2)),
            "in_area": _one_or_list(_sorted_subsets((True, False), 2)),
            "referred": _one_or_list(_sorted_subsets((True, False), 2)),
            "member_category": _one_or_list(_sorted_subsets(CATEGORY_POOL, 2)),
            "diagnosis": _one_or_list(_sorted_subsets(PREFIX_POOL, 2)),
        }
        if group_names:
            values["diagnosis_group"] = _one_or_list(_sorted_subsets(group_names, 2))
        fee_values = dict(values)
        values["allowed_below"] = self.money
        self.condition = self._conditions(values)
        self.fee_condition = self._conditions(fee_values)
        self.when = self._whens(self.condition)
        self.fee_when = self._whens(self.fee_condition)

    def money_text(self, amount: int) -> str:
        return format_money(amount, self.minor_digits)

    @staticmethod
    def _conditions(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
        """One AND-table of a `when`, 1-3 keys in CONDITION_KEYS order."""
        keys = tuple(key for key in CONDITION_KEYS if key in values)

        @st.composite
        def condition(draw) -> dict[str, Any]:
            chosen = draw(_sorted_subsets(keys, 3))
            return {key: draw(values[key]) for key in chosen}

        return condition()

    @staticmethod
    def _whens(condition: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
        """A `when`: absent (None), one AND-table, or a list of 1-3 of them."""
        return st.one_of(st.none(), condition, st.lists(condition, min_size=1, max_size=3))


@st.composite
def _bands(draw, context: _Context) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 4))
    open_ended = draw(st.integers(0, 3)) > 0
    ends_needed = count - 1 if open_ended else count
    # band ends come mostly from the shared pool, so claims and caps land on them
    fresh = draw(st.lists(st.integers(1, 30_000), min_size=ends_needed, max_size=ends_needed, unique=True))
    candidates = tuple(sorted(set(context.pool) | set(fresh)))
    ends = sorted(draw(st.lists(st.sampled_from(candidates), min_size=ends_needed, max_size=ends_needed, unique=True)))
    result: list[dict[str, Any]] = []
    for index in range(count):
        band: dict[str, Any] = {}
        if index < len(ends):
            band["upto"] = context.money_text(ends[index])
        band["ratio"] = draw(ratios)
        result.append(band)
    return result


_OPTIONAL_BASE = st.sampled_from((None, "eligible", "total"))
_OPTIONAL_SCOPE = st.sampled_from((None, "claim", "year"))
_ONE_IN_THREE = st.integers(0, 2).map(lambda value: value == 0)


@st.composite
def _band_layer(draw, layer_id: str, context: _Context) -> dict[str, Any]:
    layer: dict[str, Any] = {"id": layer_id, "payer": f"Payer {layer_id}"}
    if (base := draw(_OPTIONAL_BASE)) is not None:
        layer["base"] = base
    if (scope := draw(_OPTIONAL_SCOPE)) is not None:
        layer["scope"] = scope
    if (when := draw(context.when)) is not None:
        layer["when"] = when
    if draw(_ONE_IN_THREE):
        layer["cap_per_claim"] = draw(context.money_or_zero)
    if draw(_ONE_IN_THREE):
        layer["cap_per_year"] = draw(context.money_or_zero)
    if draw(_ONE_IN_THREE):
        layer["max_cumulative_share"] = draw(ratios)
        if (of := draw(_OPTIONAL_BASE)) is not None:
            layer["of"] = of
    variant_count = draw(st.integers(1, 3))
    variants = []
    for index in range(variant_count):
        variant: dict[str, Any] = {}
        # earlier variants usually carry a `when`; the last is often the unconditional fallback
        variant_when = draw(context.when)
        if variant_when is None and index < variant_count - 1 and draw(st.integers(0, 3)) > 0:
            variant_when = draw(context.condition)
        if variant_when is not None:
            variant["when"] = variant_when
        variant["bands"] = draw(_bands(context))
        variants.append(variant)
    layer["variant"] = variants
    return layer


@st.composite
def _oop_cap_layer(draw, layer_id: str, context: _Context) -> dict[str, Any]:
    layer: dict[str, Any] = {"id": layer_id, "payer": f"Payer {layer_id}", "kind": "oop_cap"}
    if (base := draw(_OPTIONAL_BASE)) is not None:
        layer["base"] = base
    layer["max_share"] = draw(ratios)
    if draw(_BOOLEANS):
        layer["max_per_year"] = draw(context.money_or_zero)
    if (when := draw(context.when)) is not None:
        layer["when"] = when
    return layer


def _days_in_month_of_2001(month: int) -> int:
    following = date(2002, 1, 1) if month == 12 else date(2001, month + 1, 1)
    return (following - timedelta(days=1)).day


@st.composite
def policy_cases(draw) -> PolicyCase:
    currency, explicit_digits = draw(st.sampled_from(CURRENCIES))
    minor_digits = explicit_digits if explicit_digits is not None else ISO_4217_EXPONENTS[currency]
    month = draw(st.integers(1, 12))
    # any day every year has (not 29 February): month ends and leap years meet benefit-year edges
    year_start = (month, draw(st.integers(1, _days_in_month_of_2001(month))))
    if draw(_BOOLEANS):
        year_start = (1, 1)
    effective_from = draw(st.dates(min_value=date(2017, 1, 1), max_value=date(2022, 12, 31)))
    # long enough to span two or three benefit years whatever the year start
    effective_to = effective_from + timedelta(days=draw(st.integers(400, 1000)))
    levels = tuple(draw(_sorted_subsets(LEVEL_POOL, 5)))
    care_types = tuple(draw(_sorted_subsets(CARE_TYPE_POOL, 4)))
    # mostly small amounts (readable counterexamples); sometimes province-sized ones, where
    # amount x ratio and yearly running sums outgrow 32 bits and approach 64
    scale = draw(st.sampled_from((1, 1, 1, 1, 1000, 1_000_000)))
    pool = tuple(value * scale for value in draw(amount_pools))
    group_names = tuple(draw(st.lists(st.sampled_from(GROUP_NAME_POOL), max_size=3, unique=True)))
    groups = {name: draw(_sorted_subsets(PREFIX_POOL, 3)) for name in group_names}
    context = _Context(levels, care_types, group_names, pool, minor_digits)

    header: dict[str, Any] = {
        "id": f"test-{currency.lower()}",
        "name": "Random policy for the engines-agree property",
        "currency": currency,
    }
    if explicit_digits is not None:
        header["minor_digits"] = explicit_digits
    header["effective_from"] = effective_from
    open_ended = draw(st.integers(0, 5)) == 0
    if not open_ended:
        header["effective_to"] = effective_to
    if year_start != (1, 1) or draw(_BOOLEANS):  # "01-01" is the default
        header["year_start"] = f"{year_start[0]:02d}-{year_start[1]:02d}"
    header["provider_levels"] = list(levels)
    header["care_types"] = list(care_types)
    header["source"] = "generated by tests/settlement/strategies.py"

    document: dict[str, Any] = {"policy": header}
    if groups:
        document["diagnosis_groups"] = groups

    fixed_fees = []
    for _ in range(draw(st.integers(0, 2))):
        fee: dict[str, Any] = {}
        # a fixed fee without `when` would apply to every claim: rare, but valid
        fee_when = draw(context.fee_when)
        if fee_when is None and draw(st.integers(0, 4)) > 0:
            fee_when = draw(context.fee_condition)
        if fee_when is not None:
            fee["when"] = fee_when
        fee["fee"] = draw(context.money_or_zero)
        fixed_fees.append(fee)
    if fixed_fees:
        document["fixed_fee"] = fixed_fees

    layers = []
    for index in range(draw(st.integers(1, 6))):
        layer_id = f"l{index + 1}"
        if draw(st.integers(0, 3)) == 0:
            layers.append(draw(_oop_cap_layer(layer_id, context)))
        else:
            layers.append(draw(_band_layer(layer_id, context)))
    document["layer"] = layers

    allowances = []
    for index in range(draw(st.integers(0, 3))):
        allowance: dict[str, Any] = {"id": f"a{index + 1}", "per": draw(st.sampled_from(("claim", "day")))}
        allowance["amount"] = draw(context.money_or_zero)
        if (allowance_when := draw(context.when)) is not None:
            allowance["when"] = allowance_when
        allowances.append(allowance)
    if allowances:
        document["allowance"] = allowances

    return PolicyCase(
        document=document,
        text=render_toml(document),
        minor_digits=minor_digits,
        effective_from=effective_from,
        effective_to=effective_to,
        open_ended=open_ended,
        year_start=year_start,
        provider_levels=levels,
        care_types=care_types,
        group_names=group_names,
        amount_pool=pool,
    )


# --------------------------------------------------------------------------------------------
# Claims


def _benefit_year_starts(case: PolicyCase) -> list[date]:
    month, day = case.year_start
    return [
        date(year, month, day)
        for year in range(case.effective_from.year, case.effective_to.year + 1)
        if case.effective_from <= date(year, month, day) <= case.effective_to
    ]


@st.composite
def service_date_pools(draw, case: PolicyCase) -> tuple[date, ...]:
    """A handful of dates: the period's edges, both sides of each benefit-year boundary, random."""
    special = [case.effective_from, case.effective_to]
    for start in _benefit_year_starts(case):
        special.extend([start, start - timedelta(days=1)])
    special = sorted({day for day in special if case.effective_from <= day <= case.effective_to})
    random_days = draw(
        st.lists(st.dates(min_value=case.effective_from, max_value=case.effective_to), min_size=1, max_size=4)
    )
    chosen = draw(st.lists(st.sampled_from(special), min_size=1, max_size=4, unique=True))
    return tuple(sorted(set(chosen) | set(random_days)))


_ELIGIBLE_SHAPE = st.integers(0, 4)
_PER_MILLE = st.integers(0, 1000)


def _claim_amounts(pool: tuple[int, ...]) -> st.SearchStrategy[tuple[int, int]]:
    """(total, eligible) with eligible <= total; often exactly a pool amount, sometimes 0."""
    near = st.sampled_from(pool)
    totals = st.one_of(
        st.just(0),
        near,
        near.map(lambda v: v - 1),
        near.map(lambda v: v + 1),
        st.integers(0, 40_000),
        # two pool amounts: year-scope positions then land on band ends after two claims
        st.tuples(near, near).map(sum),
    )

    def eligible_of(total: int, shape: int, pool_value: int, per_mille: int) -> int:
        if shape == 0:
            return total
        if shape == 1:
            return 0
        if shape == 2:
            return min(pool_value, total)
        return total * per_mille // 1000

    return st.tuples(totals, _ELIGIBLE_SHAPE, near, _PER_MILLE).map(lambda drawn: (drawn[0], eligible_of(*drawn)))


@st.composite
def claim_lists(draw, case: PolicyCase, *, max_claims: int = MAX_CLAIMS) -> list[Claim]:
    """Claims of 1-5 members, many per member, in random input order, all valid for `case`."""
    member_count = draw(st.integers(1, 5))
    dates = draw(service_date_pools(case))
    per_member_max = max(1, min(MAX_CLAIMS_PER_MEMBER, max_claims // member_count))
    # mostly dates from the small pool so that same-day claims (ordered by claim_id) happen
    day = st.one_of(st.sampled_from(dates), st.sampled_from(dates), st.dates(case.effective_from, case.effective_to))
    fields = st.tuples(
        day,
        _claim_amounts(case.amount_pool),
        st.sampled_from(("p1", "p2", "p3")),
        st.sampled_from(case.provider_levels),
        _BOOLEANS,
        _BOOLEANS,
        _BOOLEANS,
        st.sampled_from(case.care_types),
        st.sampled_from(DIAGNOSIS_POOL),
        st.integers(0, 12),
        st.frozensets(st.sampled_from(CATEGORY_POOL), max_size=2),
    )
    # half the members have a few claims, half up to the maximum: long yearly histories are where
    # accumulators and caps meet, short ones shrink to readable counterexamples
    counts = st.one_of(st.integers(1, min(5, per_member_max)), st.integers(1, per_member_max))
    drafts: list[tuple[str, tuple]] = []
    for member in range(member_count):
        count = draw(counts)
        for drawn in draw(st.lists(fields, min_size=count, max_size=count)):
            drafts.append((f"m{member + 1}", drawn))
    order = draw(st.permutations(range(len(drafts))))
    claims = []
    # ids by input position: "c10" sorts before "c9", so same-day order by claim_id is textual
    for position, index in enumerate(order):
        member, (service_date, (total, eligible), provider, level, *flags, care, diagnosis, days, categories) = drafts[
            index
        ]
        designated, in_area, referred = flags
        claims.append(
            Claim(
                claim_id=f"c{position + 1}",
                member_id=member,
                service_date=service_date,
                provider_id=provider,
                provider_level=level,
                designated=designated,
                in_area=in_area,
                referred=referred,
                care_type=care,
                diagnosis=diagnosis,
                days=days,
                total=total,
                eligible=eligible,
                categories=categories,
            )
        )
    return claims


@st.composite
def policies_with_claims(draw, *, max_claims: int = MAX_CLAIMS) -> tuple[PolicyCase, list[Claim]]:
    case = draw(policy_cases())
    return case, draw(claim_lists(case, max_claims=max_claims))


# --------------------------------------------------------------------------------------------
# Claims as CSV (the columns of docs/settlement.md, "A claim")

CLAIM_COLUMNS = (
    "claim_id",
    "member_id",
    "service_date",
    "provider_id",
    "provider_level",
    "designated",
    "in_area",
    "referred",
    "care_type",
    "diagnosis",
    "days",
    "total",
    "eligible",
    "categories",
)

BOOLEAN_SPELLINGS = {True: ("true", "TRUE", "1", "yes", "Yes"), False: ("false", "False", "0", "no", "NO")}


def _short_money(amount: int, minor_digits: int) -> str:
    """The same amount with fewer decimals, as spreadsheets write it: "12.50" -> "12.5", "12.00" -> "12"."""
    text = format_money(amount, minor_digits)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text != "0" else "-0"  # "-0" is not negative: a valid zero


def claim_row(claim: Claim, minor_digits: int, *, boolean_style: int = 0, messy: bool = False) -> dict[str, str]:
    """The claim as one CSV row. ``messy`` writes valid but untidy text, varying by row: padded fields,
    lower-case diagnoses, short or signed-zero amounts, unsorted and repeated categories."""

    def flag(value: bool) -> str:
        spellings = BOOLEAN_SPELLINGS[value]
        return spellings[boolean_style % len(spellings)]

    row = {
        "claim_id": claim.claim_id,
        "member_id": claim.member_id,
        "service_date": claim.service_date.isoformat(),
        "provider_id": claim.provider_id,
        "provider_level": claim.provider_level,
        "designated": flag(claim.designated),
        "in_area": flag(claim.in_area),
        "referred": flag(claim.referred),
        "care_type": claim.care_type,
        "diagnosis": claim.diagnosis,
        "days": str(claim.days),
        "total": format_money(claim.total, minor_digits),
        "eligible": format_money(claim.eligible, minor_digits),
        "categories": ";".join(sorted(claim.categories)),
    }
    if messy:
        variant = sum(map(ord, claim.claim_id)) % 4
        if variant == 0:
            row = {column: (" " + value + "\t" if column != "claim_id" else value) for column, value in row.items()}
        elif variant == 1:
            row["diagnosis"] = claim.diagnosis.lower()
            row["total"] = _short_money(claim.total, minor_digits)
            row["eligible"] = _short_money(claim.eligible, minor_digits)
        elif variant == 2:
            categories = sorted(claim.categories, reverse=True)
            row["categories"] = " ; ".join(categories + categories[:1]) + ";"
        else:
            row["claim_id"] = " " + claim.claim_id + " "
    return row


def rows_to_csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CLAIM_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# Each corruption turns a valid row into one the spec says must be rejected, naming claim and field.
CORRUPTIONS = (
    "unknown_level",
    "unknown_care_type",
    "eligible_above_total",
    "negative_total",
    "too_many_decimals",
    "date_outside_period",
    "duplicate_claim_id",
    "bad_boolean",
    "bad_date",
    "negative_days",
    "empty_member_id",
    "empty_claim_id",
    "not_an_icd10_code",
    "not_a_decimal",
    "huge_amount",
)


def corrupt_row(row: dict[str, str], kind: str, case: PolicyCase, *, other_id: str) -> dict[str, str]:
    bad = dict(row)
    if kind == "unknown_level":
        bad["provider_level"] = "no_such_level"
    elif kind == "unknown_care_type":
        bad["care_type"] = "no_such_care"
    elif kind == "eligible_above_total":
        total = bad["total"]
        bad["eligible"] = format_money(_parse_minor(total, case.minor_digits) + 1, case.minor_digits)
    elif kind == "negative_total":
        bad["total"] = "-" + format_money(1, case.minor_digits)
    elif kind == "too_many_decimals":
        bad["total"] = format_money(5, case.minor_digits) + ("1" if case.minor_digits else ".5")
    elif kind == "date_outside_period":
        outside = case.effective_from - timedelta(days=1) if case.open_ended else case.effective_to + timedelta(days=1)
        bad["service_date"] = outside.isoformat()
    elif kind == "duplicate_claim_id":
        bad["claim_id"] = other_id
    elif kind == "bad_boolean":
        bad["in_area"] = "maybe"
    elif kind == "bad_date":
        bad["service_date"] = "2019-02-30"
    elif kind == "negative_days":
        bad["days"] = "-1"
    elif kind == "empty_member_id":
        bad["member_id"] = " "
    elif kind == "empty_claim_id":
        bad["claim_id"] = ""
    elif kind == "not_an_icd10_code":
        bad["diagnosis"] = "12X"
    elif kind == "not_a_decimal":
        bad["eligible"] = "1,5"
    elif kind == "huge_amount":
        bad["total"] = "9" * 25
    else:  # pragma: no cover - CORRUPTIONS is closed
        raise ValueError(kind)
    return bad


def _parse_minor(text: str, minor_digits: int) -> int:
    from equicover.money import parse_money

    return parse_money(text, minor_digits)


@st.composite
def claims_csv_with_bad_rows(draw, *, max_claims: int = 40) -> tuple[PolicyCase, str, tuple[int, ...]]:
    """(policy, claims CSV text with some rows corrupted, the file lines of the corrupted rows).

    Rows hold no line breaks, so the row at index i is on line i + 2 (the header is line 1)."""
    case = draw(policy_cases())
    claims = draw(claim_lists(case, max_claims=max_claims))
    boolean_style = draw(st.integers(0, 4))
    messy = draw(_BOOLEANS)
    rows = [claim_row(claim, case.minor_digits, boolean_style=boolean_style, messy=messy) for claim in claims]
    if len(rows) < 2:
        return case, rows_to_csv(rows), ()
    positions = draw(st.lists(st.integers(1, len(rows) - 1), max_size=min(4, len(rows) - 1), unique=True))
    for position in positions:
        kind = draw(st.sampled_from(CORRUPTIONS))
        rows[position] = corrupt_row(rows[position], kind, case, other_id=rows[0]["claim_id"])
    return case, rows_to_csv(rows), tuple(sorted(position + 2 for position in positions))
