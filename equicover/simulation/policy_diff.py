"""What changed between two policies, in the words of a ministry analyst.

Both files are loaded (so they pass ``policy check``) and compared as typed policies, never as
text: a moved comment is no change, a ratio written 0.9 or 0.90 is the same ratio. Layers are
matched by id, allowances by id, variants of a layer by their condition (an inserted variant is
"new", not a shift of every later one), fixed fees and subsidy rules by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from equicover.money import RATIO_SCALE
from equicover.settlement.model import (
    Allowance,
    Band,
    Condition,
    ContributionRules,
    FixedFee,
    Layer,
    Policy,
    Variant,
    When,
)


@dataclass(frozen=True, slots=True)
class Change:
    where: str  # "policy", "layer tilt", "layer basic, variant for ...", "allowance food", "contribution"
    what: str


def _money(minor: int | None, policy: Policy) -> str:
    if minor is None:
        return "none"
    return f"{Decimal(minor).scaleb(-policy.minor_digits):,} {policy.currency}"


def _percent(scaled: int | None) -> str:
    if scaled is None:
        return "none"
    return f"{(Decimal(scaled) / RATIO_SCALE * 100).normalize():f}%"


def _names(values: frozenset[str] | frozenset[bool] | tuple[str, ...]) -> str:
    return " or ".join(sorted(str(value) for value in values))


def describe_condition(condition: Condition, policy: Policy) -> str:
    parts = []
    if condition.care_type is not None:
        parts.append(f"care type {_names(condition.care_type)}")
    if condition.provider_level is not None:
        parts.append(f"{_names(condition.provider_level)} facilities")
    for name, words in (
        ("designated", ("designated facilities", "facilities not designated")),
        ("in_area", ("in the member's area", "outside the member's area")),
        ("referred", ("with a referral", "without a referral")),
    ):
        value = getattr(condition, name)
        if value is not None and len(value) == 1:
            parts.append(words[0] if True in value else words[1])
    if condition.member_category is not None:
        parts.append(f"members who are {_names(condition.member_category)}")
    if condition.diagnosis_group is not None:
        parts.append(f"diagnosis group {_names(condition.diagnosis_group)}")
    if condition.diagnosis is not None:
        parts.append(f"diagnosis {_names(condition.diagnosis)}")
    if condition.allowed_below is not None:
        parts.append(f"bills below {_money(condition.allowed_below, policy)}")
    return ", ".join(parts) or "every claim"


def describe_when(when: When, policy: Policy) -> str:
    if not when:
        return "every claim"
    return " or ".join(f"({describe_condition(condition, policy)})" for condition in when)


def describe_bands(bands: Sequence[Band], policy: Policy) -> str:
    words = []
    start = 0
    for band in bands:
        span = f"from {_money(start, policy)}" if band.upto is None else f"up to {_money(band.upto, policy)}"
        words.append(f"{span}: {_percent(band.ratio)}")
        start = band.upto if band.upto is not None else start
    return "; ".join(words)


def _compare(changes: list[Change], where: str, what: str, before: str, after: str) -> None:
    if before != after:
        changes.append(Change(where, f"{what}: {after} instead of {before}"))


def _header(a: Policy, b: Policy, changes: list[Change]) -> None:
    where = "policy"
    _compare(changes, where, "id", a.id, b.id)
    _compare(changes, where, "name", a.name, b.name)
    _compare(
        changes,
        where,
        "currency",
        f"{a.currency} ({a.minor_digits} minor digits)",
        f"{b.currency} ({b.minor_digits} minor digits)",
    )
    _compare(changes, where, "in force from", a.effective_from.isoformat(), b.effective_from.isoformat())
    _compare(
        changes,
        where,
        "in force until",
        a.effective_to.isoformat() if a.effective_to else "open",
        b.effective_to.isoformat() if b.effective_to else "open",
    )
    starts = ["{:02d}-{:02d}".format(*policy.year_start) for policy in (a, b)]
    _compare(changes, where, "the benefit year starts on", starts[0], starts[1])
    _compare(changes, where, "time zone", a.time_zone, b.time_zone)
    for what, old, new in (
        ("provider levels", a.provider_levels, b.provider_levels),
        ("care types", a.care_types, b.care_types),
    ):
        added = [value for value in new if value not in old]
        removed = [value for value in old if value not in new]
        if added:
            changes.append(Change(where, f"{what} added: {', '.join(added)}"))
        if removed:
            changes.append(Change(where, f"{what} removed: {', '.join(removed)}"))
    for care_type in sorted(set(a.stay_days) | set(b.stay_days)):
        _compare(changes, where, f"days a {care_type} bill may declare", _stay(a, care_type), _stay(b, care_type))
    for group in sorted(set(a.diagnosis_groups) | set(b.diagnosis_groups)):
        old_codes = ", ".join(a.diagnosis_groups.get(group, ())) or "not defined"
        new_codes = ", ".join(b.diagnosis_groups.get(group, ())) or "not defined"
        _compare(changes, f"diagnosis group {group}", "ICD-10 codes", old_codes, new_codes)


def _stay(policy: Policy, care_type: str) -> str:
    bounds = policy.stay_days.get(care_type)
    if bounds is None:
        return "any"
    low, high = bounds
    return f"{low} or more" if high is None else f"{low} to {high}"


def _fixed_fees(a: Policy, b: Policy, changes: list[Change]) -> None:
    for index in range(max(len(a.fixed_fees), len(b.fixed_fees))):
        where = f"fixed fee {index + 1}"
        old: FixedFee | None = a.fixed_fees[index] if index < len(a.fixed_fees) else None
        new: FixedFee | None = b.fixed_fees[index] if index < len(b.fixed_fees) else None
        if old is None and new is not None:
            changes.append(Change(where, f"new: {_money(new.fee, b)} for {describe_when(new.when, b)}"))
        elif new is None and old is not None:
            changes.append(Change(where, f"removed (was {_money(old.fee, a)} for {describe_when(old.when, a)})"))
        elif old is not None and new is not None:
            _compare(changes, where, "fee", _money(old.fee, a), _money(new.fee, b))
            _compare(changes, where, "applies to", describe_when(old.when, a), describe_when(new.when, b))


def describe_layer(layer: Layer, policy: Policy) -> str:
    if layer.kind == "oop_cap":
        text = f"pays what the member would pay above {_percent(layer.max_share)} of the {_base(layer.base)}"
        if layer.max_per_year is not None:
            text += f" or above {_money(layer.max_per_year, policy)} a year"
    else:
        variants = "; ".join(
            f"[{describe_when(variant.when, policy)}: {describe_bands(variant.bands, policy)}]"
            for variant in layer.variants
        )
        text = f"pays bands of the {_base(layer.base)} per {layer.scope}: {variants}"
    return f"{text}; applies to {describe_when(layer.when, policy)}"


def _base(base: str) -> str:
    return "in-catalogue amount" if base == "eligible" else "whole bill"


def _layer(old: Layer, new: Layer, a: Policy, b: Policy, changes: list[Change]) -> None:
    where = f"layer {new.id}"
    _compare(changes, where, "payer", old.payer, new.payer)
    _compare(changes, where, "kind", old.kind, new.kind)
    _compare(changes, where, "pays from", _base(old.base), _base(new.base))
    _compare(changes, where, "applies to", describe_when(old.when, a), describe_when(new.when, b))
    if old.kind == "oop_cap" and new.kind == "oop_cap":
        _compare(
            changes,
            where,
            f"ceiling on the member's share of the {_base(new.base)} (max_share)",
            _percent(old.max_share),
            _percent(new.max_share),
        )
        _compare(
            changes,
            where,
            "yearly ceiling on the member's payments (max_per_year)",
            _money(old.max_per_year, a),
            _money(new.max_per_year, b),
        )
        return
    if old.kind != new.kind:
        changes.append(Change(where, f"now {describe_layer(new, b)}"))
        return
    _compare(changes, where, "bands counted per", old.scope, new.scope)
    _compare(changes, where, "cap per claim", _money(old.cap_per_claim, a), _money(new.cap_per_claim, b))
    _compare(changes, where, "cap per member a year", _money(old.cap_per_year, a), _money(new.cap_per_year, b))
    _compare(
        changes,
        where,
        "ceiling on total reimbursement (max_cumulative_share)",
        f"{_percent(old.max_cumulative_share)} of the {_base(old.cumulative_share_of)}"
        if old.max_cumulative_share is not None
        else "none",
        f"{_percent(new.max_cumulative_share)} of the {_base(new.cumulative_share_of)}"
        if new.max_cumulative_share is not None
        else "none",
    )
    _variants(old.variants, new.variants, where, a, b, changes)


def _variants(
    old: Sequence[Variant], new: Sequence[Variant], where: str, a: Policy, b: Policy, changes: list[Change]
) -> None:
    old_by_when = {variant.when: variant for variant in old}
    new_by_when = {variant.when: variant for variant in new}
    for position, variant in enumerate(new, start=1):
        label = f"{where}, variant for {describe_when(variant.when, b)}"
        before = old_by_when.get(variant.when)
        if before is None:
            changes.append(Change(label, f"new (position {position}): {describe_bands(variant.bands, b)}"))
        elif before.bands != variant.bands:
            changes.append(Change(label, _band_changes(before.bands, variant.bands, a, b)))
    for variant in old:
        if variant.when not in new_by_when:
            label = f"{where}, variant for {describe_when(variant.when, a)}"
            changes.append(Change(label, f"removed (was {describe_bands(variant.bands, a)})"))
    common_old = [variant.when for variant in old if variant.when in new_by_when]
    common_new = [variant.when for variant in new if variant.when in old_by_when]
    if common_old != common_new:
        changes.append(Change(where, "the variants are tried in a new order (the first that matches applies)"))


def _band_changes(old: Sequence[Band], new: Sequence[Band], a: Policy, b: Policy) -> str:
    if len(old) != len(new):
        return f"bands {describe_bands(new, b)} instead of {describe_bands(old, a)}"
    words = []
    for index, (before, after) in enumerate(zip(old, new), start=1):
        if before.upto != after.upto:
            old_end = _money(before.upto, a) if before.upto is not None else "no end"
            new_end = _money(after.upto, b) if after.upto is not None else "no end"
            words.append(f"band {index} ends at {new_end} instead of {old_end}")
        if before.ratio != after.ratio:
            words.append(f"band {index} pays {_percent(after.ratio)} instead of {_percent(before.ratio)}")
    return "; ".join(words)


def _layers(a: Policy, b: Policy, changes: list[Change]) -> None:
    old = {layer.id: layer for layer in a.layers}
    new = {layer.id: layer for layer in b.layers}
    for position, layer in enumerate(b.layers, start=1):
        if layer.id not in old:
            changes.append(
                Change(
                    f"layer {layer.id}",
                    f"added at position {position}, paid by {layer.payer}: {describe_layer(layer, b)}",
                )
            )
        else:
            _layer(old[layer.id], layer, a, b, changes)
    for layer in a.layers:
        if layer.id not in new:
            changes.append(
                Change(f"layer {layer.id}", f"removed (was paid by {layer.payer}: {describe_layer(layer, a)})")
            )
    common_old = [layer.id for layer in a.layers if layer.id in new]
    common_new = [layer.id for layer in b.layers if layer.id in old]
    if common_old != common_new:
        changes.append(
            Change(
                "payer cascade",
                f"the layers run in the order {', '.join(common_new)} instead of {', '.join(common_old)}",
            )
        )


def _allowance(allowance: Allowance, policy: Policy) -> str:
    return f"{_money(allowance.amount, policy)} per {allowance.per} for {describe_when(allowance.when, policy)}"


def _allowances(a: Policy, b: Policy, changes: list[Change]) -> None:
    old = {allowance.id: allowance for allowance in a.allowances}
    new = {allowance.id: allowance for allowance in b.allowances}
    for allowance in b.allowances:
        where = f"allowance {allowance.id}"
        if allowance.id not in old:
            changes.append(Change(where, f"added: {_allowance(allowance, b)}"))
        else:
            _compare(changes, where, "amount", _allowance(old[allowance.id], a), _allowance(allowance, b))
    for allowance in a.allowances:
        if allowance.id not in new:
            changes.append(Change(f"allowance {allowance.id}", f"removed (was {_allowance(allowance, a)})"))


def _contribution_text(rules: ContributionRules | None, policy: Policy) -> str:
    if rules is None:
        return "none"
    if rules.kind == "flat":
        text = f"{_money(rules.amount, policy)} a person a year"
        if rules.household_cap is not None:
            text += f", at most {_money(rules.household_cap, policy)} a household"
        return text
    factors = ", ".join(_percent(factor) for factor in rules.rank_factors)
    return f"{_percent(rules.share)} of {_money(rules.reference_wage, policy)} by rank in the household ({factors})"


def _contributions(a: Policy, b: Policy, changes: list[Change]) -> None:
    where = "contribution"
    _compare(
        changes, where, "each member owes", _contribution_text(a.contribution, a), _contribution_text(b.contribution, b)
    )
    old = a.contribution.subsidies if a.contribution else ()
    new = b.contribution.subsidies if b.contribution else ()
    for index in range(max(len(old), len(new))):
        before = (
            f"{', '.join(f'{payer} {_percent(share)}' for payer, share in old[index].shares)} "
            f"for {describe_when(old[index].when, a)}"
            if index < len(old)
            else "none"
        )
        after = (
            f"{', '.join(f'{payer} {_percent(share)}' for payer, share in new[index].shares)} "
            f"for {describe_when(new[index].when, b)}"
            if index < len(new)
            else "none"
        )
        _compare(changes, f"contribution subsidy {index + 1}", "who pays", before, after)


def diff_policies(a: Policy, b: Policy) -> list[Change]:
    """Every change from ``a`` to ``b``, in the order of the policy file."""
    changes: list[Change] = []
    _header(a, b, changes)
    _fixed_fees(a, b, changes)
    _layers(a, b, changes)
    _allowances(a, b, changes)
    _contributions(a, b, changes)
    return changes
