"""SQL text generated from a policy for the batch engine (DuckDB dialect).

Every function here returns SQL built only from the policy, never from claim data, so that the
engine stays one set-based pass per layer whatever the number of claims. Column names used in the
generated SQL (the typed claim as both the file reader and ``settle_records`` present it):

``claim_id, member_id, service_date, byear, provider_level, designated, in_area, referred,
care_type, diagnosis, days, total, eligible, categories`` (money as BIGINT minor units,
``categories`` a VARCHAR[], ``diagnosis`` upper-cased and trimmed).

Internal columns are numbered by the layer's position (``m3``, ``pay3`` …) so that layer ids never
have to be valid SQL identifiers; only output columns carry the ids, always double-quoted.
"""

from __future__ import annotations

from dataclasses import dataclass

from equicover.money import RATIO_SCALE
from equicover.settlement.model import Condition, Layer, Policy, When

# Every yearly accumulator is a running sum over the member's benefit year in settlement order
# (docs/settlement.md, "The arithmetic"). The claims are stored sorted by (member, date, claim id), so a running sum
# within (member, benefit year) is the running sum over the whole table minus its value where the
# member's year starts: two streaming windows in storage order (``OVER ()`` keeps the order of a
# table scan when insertion order is preserved), no partitioned sort. ``first_of_year`` marks the
# first claim of a member's benefit year.
RUNNING = "OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"


def year_running_sum(value: str, name: str, label: str = "") -> list[Stage]:
    """Stages adding ``name``: the sum of ``value`` (>= 0) over the member's benefit year so far,
    this claim included. Values must be non-negative: the year's starting point is found as the
    running maximum of the table-wide sum at year starts."""
    return [
        Stage((f"coalesce({value}, 0) AS {name}_v",)),
        Stage((f"sum({name}_v) {RUNNING} AS {name}_c",), windowed=True, label=label),
        Stage(
            (f"max(CASE WHEN first_of_year THEN {name}_c - {name}_v END) {RUNNING} AS {name}_b",),
            windowed=True,
        ),
        Stage((f"({name}_c - {name}_b)::BIGINT AS {name}",)),
    ]


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _in_list(column: str, values: frozenset[str] | frozenset[bool]) -> str:
    if not values:
        return "FALSE"
    if all(isinstance(value, bool) for value in values):
        literals = sorted("TRUE" if value else "FALSE" for value in values)
    else:
        literals = sorted(quote_literal(str(value)) for value in values)
    return f"{column} IN ({', '.join(literals)})"


def _prefixes(column: str, prefixes: tuple[str, ...]) -> str:
    if not prefixes:
        return "FALSE"
    unique = sorted(set(prefixes))
    return "(" + " OR ".join(f"starts_with({column}, {quote_literal(p)})" for p in unique) + ")"


def condition_sql(condition: Condition, policy: Policy, *, allowed: str = "allowed") -> str:
    """One AND-table; ``allowed`` names the column holding the claim's allowed amount."""
    parts: list[str] = []
    if condition.care_type is not None:
        parts.append(_in_list("care_type", condition.care_type))
    if condition.provider_level is not None:
        parts.append(_in_list("provider_level", condition.provider_level))
    for flag in ("designated", "in_area", "referred"):
        accepted = getattr(condition, flag)
        if accepted is not None:
            parts.append(_in_list(flag, accepted))
    if condition.member_category is not None:
        names = policy_categories(policy)
        flags = [f"cat{names.index(c)}" for c in sorted(condition.member_category)]
        parts.append("(" + " OR ".join(flags) + ")" if flags else "FALSE")
    if condition.diagnosis_group is not None:
        prefixes: list[str] = []
        for group in condition.diagnosis_group:
            prefixes.extend(policy.diagnosis_groups.get(group, ()))
        parts.append(_prefixes("diagnosis", tuple(prefixes)))
    if condition.diagnosis is not None:
        parts.append(_prefixes("diagnosis", condition.diagnosis))
    if condition.allowed_below is not None:
        parts.append(f"{allowed} < {int(condition.allowed_below)}")
    return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


def policy_categories(policy: Policy) -> tuple[str, ...]:
    """Every member category a condition of the policy names, sorted: claims carry one boolean
    column ``cat<j>`` per category (whether the member has it) instead of a list."""
    whens = [fee.when for fee in policy.fixed_fees] + [a.when for a in policy.allowances]
    for layer in policy.layers:
        whens.append(layer.when)
        whens.extend(v.when for v in layer.variants)
    return tuple(sorted({c for when in whens for condition in when for c in (condition.member_category or ())}))


def when_sql(when: When, policy: Policy, *, allowed: str = "allowed") -> str:
    """OR of AND-tables; an empty `when` always matches."""
    if not when:
        return "TRUE"
    return "(" + " OR ".join(condition_sql(c, policy, allowed=allowed) for c in when) + ")"


def benefit_year_sql(policy: Policy, date_column: str = "service_date") -> str:
    month, day = policy.year_start
    if (month, day) == (1, 1):
        return f"year({date_column})"
    return (
        f"(year({date_column}) - CASE WHEN month({date_column}) * 100 + day({date_column}) "
        f"< {month * 100 + day} THEN 1 ELSE 0 END)"
    )


def fixed_fee_columns(policy: Policy) -> str:
    """``ff`` (1-based index or NULL), ``allowed``, ``provider_writeoff``, ``elig`` (eligible
    after the fixed fee), from ``total`` and ``eligible``."""
    if not policy.fixed_fees:
        return "NULL::INTEGER AS ff, total AS allowed, 0::BIGINT AS provider_writeoff, eligible AS elig"
    index = (
        "CASE "
        + " ".join(
            f"WHEN {when_sql(fee.when, policy)} THEN {position}"
            for position, fee in enumerate(policy.fixed_fees, start=1)
        )
        + " END"
    )
    fee = (
        "CASE ff "
        + " ".join(
            f"WHEN {position} THEN {int(f.fee)}::BIGINT" for position, f in enumerate(policy.fixed_fees, start=1)
        )
        + " END"
    )
    return f"{index} AS ff, {fee} AS fee"


def fixed_fee_apply_columns(policy: Policy) -> str:
    if not policy.fixed_fees:
        return ""
    return (
        "coalesce(fee, total) AS allowed, "
        "CASE WHEN ff IS NULL THEN 0::BIGINT ELSE total - fee END AS provider_writeoff, "
        "CASE WHEN ff IS NULL THEN eligible ELSE least(eligible, fee) END AS elig"
    )


def layer_match_columns(policy: Policy) -> list[str]:
    """Per layer k: ``m{k}`` (layer matched) and, for band layers, ``v{k}`` (variant, 1-based)."""
    columns: list[str] = []
    for k, layer in enumerate(policy.layers):
        layer_when = when_sql(layer.when, policy)
        if layer.kind == "oop_cap":
            columns.append(f"{layer_when} AS m{k}")
            continue
        variant = (
            "CASE "
            + " ".join(
                f"WHEN {when_sql(v.when, policy)} THEN {position}" for position, v in enumerate(layer.variants, start=1)
            )
            + " END"
            if layer.variants
            else "NULL"
        )
        columns.append(f"CASE WHEN {layer_when} THEN ({variant})::TINYINT END AS v{k}")
    return columns


def layer_match_flags(policy: Policy) -> list[str]:
    """``m{k}`` for band layers (matched = a variant matched), from ``v{k}``."""
    return [f"v{k} IS NOT NULL AS m{k}" for k, layer in enumerate(policy.layers) if layer.kind != "oop_cap"]


def allowance_columns(policy: Policy) -> list[str]:
    columns = []
    for position, allowance in enumerate(policy.allowances):
        amount = int(allowance.amount)
        value = f"{amount}::BIGINT" if allowance.per == "claim" else f"{amount}::BIGINT * days"
        columns.append(f"CASE WHEN {when_sql(allowance.when, policy)} THEN {value} ELSE 0::BIGINT END AS al{position}")
    return columns


def _floor_share(amount: str, ratio_scaled: int) -> str:
    """floor(amount x ratio) for amount >= 0, in BIGINT without overflow: split the amount at
    RATIO_SCALE so neither product can pass 2^63 (exactly ``money.floor_share``)."""
    return (
        f"(({amount}) // {RATIO_SCALE} * {ratio_scaled} "
        f"+ (({amount}) % {RATIO_SCALE}) * {ratio_scaled} // {RATIO_SCALE})"
    )


@dataclass(frozen=True)
class Stage:
    """One SELECT level over the previous one: new columns, and whether they use the window."""

    columns: tuple[str, ...]
    windowed: bool = False
    label: str = ""


OPEN_END = 2**63 - 1  # a band without `upto`: no position reaches it

# bits of ``cf<k>``, the caps that reduced a band layer's payment, in the trail's order
CAP_BITS = (("cap_per_claim", 1), ("max_cumulative_share", 2), ("cap_per_year", 4))


def _per_variant(k: int, values: list[int]) -> str:
    """A value chosen by the layer's variant ``v<k>`` (a literal when every variant agrees)."""
    if len(set(values)) == 1:
        return str(values[0])
    cases = " ".join(f"WHEN {v} THEN {value}" for v, value in enumerate(values, start=1))
    return f"CASE v{k} {cases} ELSE 0 END"  # no variant: the layer does not apply, places nothing


def _band_stages(
    k: int, layer: Layer, remaining: str, paid_before: str, reference: dict[str, str], seeded: bool = False
) -> list[Stage]:
    stages: list[Stage] = []
    # what this claim places along the bands: its remaining amount, 0 when the layer does not apply
    placed = f"CASE WHEN m{k} THEN {remaining} ELSE 0 END"
    if layer.scope == "year":
        # s = the member's sum of this layer's `remaining` on earlier matched claims this year
        stages.extend(year_running_sum(placed, f"pos{k}", f"layer {layer.id}: positions"))
        stages.append(Stage((f"pos{k} - pos{k}_v AS s{k}", f"pos{k}_v AS r{k}")))
        # seeded: the year's position starts where the member's stored accumulator stands
        start = f"(s{k} + sp{k})" if seeded else f"s{k}"
    else:
        stages.append(Stage((f"{placed} AS r{k}",)))
        start = "0"
    end = f"({start} + r{k})"

    # band b of the variant in use: [lo, hi) and its ratio; variants with fewer bands get empty ones
    count = max((len(v.bands) for v in layer.variants), default=0)
    overlaps: list[str] = []
    terms: list[tuple[str, str]] = []
    for b in range(count):
        los, his, ratios = [], [], []
        for variant in layer.variants:
            if b < len(variant.bands):
                lo = variant.bands[b - 1].upto if b else 0
                hi = variant.bands[b].upto
                los.append(int(lo or 0))
                his.append(OPEN_END if hi is None else int(hi))
                ratios.append(int(variant.bands[b].ratio))
            else:
                los.append(0)
                his.append(0)
                ratios.append(0)
        lo_sql, hi_sql = _per_variant(k, los), _per_variant(k, his)
        low = lo_sql if start == "0" else f"greatest({lo_sql}, {start})"
        overlaps.append(f"greatest(0, least({hi_sql}, {end}) - {low}) AS o{k}_{b + 1}")
        if any(ratios):
            terms.append((f"o{k}_{b + 1}", _per_variant(k, ratios)))
    stages.append(Stage(tuple(overlaps) or (f"0 AS o{k}_none",)))

    # round_half_up(sum ratio x overlap / SCALE), exact in BIGINT: write overlap = q x SCALE + r;
    # the q parts are whole minor units, only the sum of ratio x r needs rounding.
    whole = " + ".join(f"({o} // {RATIO_SCALE}) * {ratio}" for o, ratio in terms) or "0"
    rest = " + ".join(f"({o} % {RATIO_SCALE}) * {ratio}" for o, ratio in terms) or "0"
    pay0 = f"(({whole}) + (2 * ({rest}) + {RATIO_SCALE}) // {2 * RATIO_SCALE})::BIGINT"
    names = [f"o{k}_{b + 1}" for b in range(count)]
    first = (
        "CASE " + " ".join(f"WHEN {n} > 0 THEN {i}" for i, n in enumerate(names, start=1)) + " END" if names else "NULL"
    )
    last = (
        "CASE " + " ".join(f"WHEN {n} > 0 THEN {i}" for i, n in reversed(list(enumerate(names, start=1)))) + " END"
        if names
        else "NULL"
    )
    stages.append(Stage((f"{pay0} AS p0_{k}", f"({first})::TINYINT AS bf{k}", f"({last})::TINYINT AS bl{k}")))

    pay = f"p0_{k}"
    flags: list[str] = []
    if layer.cap_per_claim is not None:
        stages.append(Stage((f"least({pay}, {int(layer.cap_per_claim)}) AS p1_{k}",)))
        flags.append(f"CASE WHEN p1_{k} < {pay} THEN 1 ELSE 0 END")
        pay = f"p1_{k}"
    if layer.max_cumulative_share is not None:
        ceiling = _floor_share(reference[layer.cumulative_share_of], layer.max_cumulative_share)
        stages.append(Stage((f"least({pay}, greatest(0, {ceiling} - ({paid_before}))) AS p2_{k}",)))
        flags.append(f"CASE WHEN p2_{k} < {pay} THEN 2 ELSE 0 END")
        pay = f"p2_{k}"
    if layer.cap_per_year is not None:
        # seeded: what the stored accumulator already paid this year comes off the cap
        cap = f"greatest(0, {int(layer.cap_per_year)} - sc{k})" if seeded else str(int(layer.cap_per_year))
        stages.extend(year_running_sum(pay, f"cum{k}", f"layer {layer.id}: year cap"))
        stages.append(Stage((f"(least(cum{k}, {cap}) - least(cum{k} - {pay}, {cap}))::BIGINT AS p3_{k}",)))
        flags.append(f"CASE WHEN p3_{k} < {pay} THEN 4 ELSE 0 END")
        pay = f"p3_{k}"
    stages.append(Stage((f"{pay}::BIGINT AS pay{k}", f"({' + '.join(flags) or '0'})::TINYINT AS cf{k}")))
    return stages


def _oop_cap_stages(
    k: int, layer: Layer, remaining: str, reference: dict[str, str], seeded: bool = False
) -> list[Stage]:
    share_limit = _floor_share(reference[layer.base], int(layer.max_share or 0))
    stages = [Stage((f"{remaining} AS mn{k}", f"{share_limit} AS sl{k}"))]
    if layer.max_per_year is not None:
        # seeded: what the stored accumulator already left to the member this year comes off the cap
        cap = f"greatest(0, {int(layer.max_per_year)} - ss{k})" if seeded else str(int(layer.max_per_year))
        stages.extend(
            year_running_sum(f"CASE WHEN m{k} THEN least(mn{k}, sl{k}) ELSE 0 END", f"left{k}", f"layer {layer.id}")
        )
        stages.append(Stage((f"left{k} - left{k}_v AS run{k}",)))
        stages.append(Stage((f"greatest(0, {cap} - least(run{k}, {cap})) AS yl{k}",)))
        limit = f"least(sl{k}, yl{k})"
        binding = f"yl{k} < sl{k}"
    else:
        limit = f"sl{k}"
        binding = "FALSE"
    stages.append(
        Stage(
            (
                f"CASE WHEN m{k} THEN greatest(0, mn{k} - {limit}) ELSE 0 END::BIGINT AS pay{k}",
                f"{binding} AS yb{k}",
            )
        )
    )
    return stages


def seed_columns(policy: Policy) -> list[str]:
    """Per layer k: ``sp{k}``, ``sc{k}``, ``ss{k}``, the position, paid and member share a
    member's stored accumulator holds for the claim's benefit year (0 when none): the columns
    ``layer_stages(policy, seeded=True)`` expects on every claim."""
    return [f"{prefix}{k}" for k in range(len(policy.layers)) for prefix in ("sp", "sc", "ss")]


def layer_stages(policy: Policy, *, seeded: bool = False) -> list[Stage]:
    """The payer cascade as SELECT levels over the prepared claims.

    Expects ``allowed``, ``elig`` (eligible after the fixed fee), ``m{k}``/``v{k}``; produces
    ``pay{k}`` and the trail token ``t{k}`` for every layer. ``re{k}``/``ra{k}`` are the
    remaining eligible / allowed amounts before layer k.

    ``seeded``: the members' accumulators do not start the year at zero but at the values in
    :func:`seed_columns` (a bulk load after earlier claims): every running sum is the same, a
    year-scope position starts at the stored position and each yearly cap is reduced by what the
    stored accumulator used of it, which is what the real-time engine does with a store holding
    those values. Unseeded, the SQL is unchanged.
    """
    stages: list[Stage] = [
        Stage(
            (
                "elig AS re0",
                "allowed AS ra0",
                # the first claim of a member's benefit year in storage (= settlement) order
                "coalesce(member_id <> lag(member_id) OVER () OR byear <> lag(byear) OVER (), TRUE) AS first_of_year",
            ),
            windowed=True,
        )
    ]
    reference = {"total": "allowed", "eligible": "elig"}
    for k, layer in enumerate(policy.layers):
        remaining = f"re{k}" if layer.base == "eligible" else f"ra{k}"
        paid_before = f"(allowed - ra{k})"
        if layer.kind == "oop_cap":
            stages.extend(_oop_cap_stages(k, layer, remaining, reference, seeded))
        else:
            stages.extend(_band_stages(k, layer, remaining, paid_before, reference, seeded))
        stages.append(Stage((f"re{k} - least(pay{k}, re{k}) AS re{k + 1}", f"ra{k} - pay{k} AS ra{k + 1}")))
    return stages


def trail_columns(policy: Policy) -> list[str]:
    """What the trail is built from, per layer: kept by the sequential part of the cascade so
    that the strings are made in the parallel part (see ``trail_sql``)."""
    columns = ["ff"]
    for k, layer in enumerate(policy.layers):
        columns.append(f"m{k}")
        columns.extend((f"v{k}", f"bf{k}", f"bl{k}", f"cf{k}") if layer.kind != "oop_cap" else (f"yb{k}",))
    return columns


# a layer whose trail tokens would make a longer list literal keeps the token built by CASEs
TOKEN_LIST_LIMIT = 4096


def _cap_names(flags: int) -> str:
    return "".join(f" {name}" for name, bit in CAP_BITS if flags & bit)


def _band_token_list(k: int, layer: Layer) -> str | None:
    """Layer k's trail token as one lookup in a constant list: the token text for every
    (variant, first band, last band, cap bits), indexed by arithmetic on the small codes, instead
    of building the string row by row (the strings are ``model.format_trail``'s tokens)."""
    count = max((len(v.bands) for v in layer.variants), default=0)
    ranges = 1 + count * count  # no band touched, or (first, last) in a count x count square
    size = 1 + len(layer.variants) * ranges * 8
    if size > TOKEN_LIST_LIMIT:
        return None
    tokens = [f"{layer.id}=-"]
    for v in range(1, len(layer.variants) + 1):
        for r in range(ranges):
            bands = "-" if r == 0 else f"{(r - 1) // count + 1}-{(r - 1) % count + 1}"
            tokens.extend(f"{layer.id}=v{v} b{bands}{_cap_names(flags)}" for flags in range(8))
    literal = "[" + ", ".join(quote_literal(t) for t in tokens) + "]"
    band_range = f"coalesce((bf{k}::INTEGER - 1) * {count} + bl{k}, 0)"
    index = f"CASE WHEN m{k} THEN 2 + ((v{k}::INTEGER - 1) * {ranges} + {band_range}) * 8 + cf{k} ELSE 1 END"
    return f"{literal}[{index}]"


def trail_sql(policy: Policy) -> str:
    """``model.format_trail`` in SQL, from ``trail_columns``."""
    tokens = []
    for k, layer in enumerate(policy.layers):
        unmatched = quote_literal(f"{layer.id}=-")
        if layer.kind == "oop_cap":
            tokens.append(
                f"[{unmatched}, {quote_literal(layer.id + '=max_share')}, {quote_literal(layer.id + '=max_per_year')}]"
                f"[CASE WHEN m{k} THEN CASE WHEN yb{k} THEN 3 ELSE 2 END ELSE 1 END]"
            )
            continue
        listed = _band_token_list(k, layer)
        if listed is not None:
            tokens.append(listed)
            continue
        caps = "".join(f" || CASE WHEN cf{k} & {bit} <> 0 THEN ' {name}' ELSE '' END" for name, bit in CAP_BITS)
        matched = (
            f"{quote_literal(layer.id + '=v')} || v{k} || ' b' || "
            f"CASE WHEN bf{k} IS NULL THEN '-' ELSE bf{k} || '-' || bl{k} END{caps}"
        )
        tokens.append(f"CASE WHEN m{k} THEN {matched} ELSE {unmatched} END")
    fees = "[" + ", ".join(quote_literal(f"fixed_fee={i}") for i in range(1, len(policy.fixed_fees) + 1)) + "]"
    fixed = f"{fees}[ff]" if policy.fixed_fees else "NULL::VARCHAR"
    return "concat_ws('; ', " + ", ".join([fixed, *tokens]) + ")" if tokens else f"coalesce({fixed}, '')"
