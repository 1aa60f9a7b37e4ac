"""`when` conditions compiled once into predicates over a claim (and its allowed amount).

A policy is compiled when an engine is built, so settling a claim costs a few attribute reads and
set look-ups per condition, never a walk over the policy's text or model. Matching rules (the
batch engine implements the same):
- an AND-table matches when every present key matches; a `when` matches when any table does; an
  empty `when` always matches;
- `care_type`, `provider_level`, `designated`, `in_area`, `referred`: the claim's value is in the list;
- `member_category`: the member has at least one of the listed categories;
- `diagnosis`: the claim's code (upper-cased, trimmed) starts with one of the prefixes;
- `diagnosis_group`: the same with the prefixes of the named groups of the policy;
- `allowed_below`: the claim's allowed amount (after any fixed fee) is strictly below the amount.
"""

from __future__ import annotations

from collections.abc import Callable

from equicover.settlement.claims_file import TRIMMED_CHARACTERS
from equicover.settlement.model import Claim, Condition, Policy, When

Predicate = Callable[[Claim, int], bool]


def _always(claim: Claim, allowed: int) -> bool:
    return True


def _never(claim: Claim, allowed: int) -> bool:
    return False


def _code(claim: Claim) -> str:
    # The CSV reader already normalises the code; a Claim built by an API caller may not have.
    return claim.diagnosis.strip(TRIMMED_CHARACTERS).upper()


def diagnosis_prefixes(condition: Condition, policy: Policy) -> tuple[str, ...] | None:
    """The prefixes a condition's `diagnosis_group` and `diagnosis` keys accept, or None if neither.

    Both keys present means both must match, so they are checked separately by the caller; this
    helper is for `diagnosis_group` alone.
    """
    if condition.diagnosis_group is None:
        return None
    prefixes: list[str] = []
    for group in condition.diagnosis_group:
        prefixes.extend(policy.diagnosis_groups.get(group, ()))
    return tuple(dict.fromkeys(prefixes))


def compile_condition(condition: Condition, policy: Policy) -> Predicate:
    checks: list[Predicate] = []
    if condition.care_type is not None:
        care_types = condition.care_type
        checks.append(lambda claim, allowed: claim.care_type in care_types)
    if condition.provider_level is not None:
        levels = condition.provider_level
        checks.append(lambda claim, allowed: claim.provider_level in levels)
    if condition.designated is not None:
        designated = condition.designated
        checks.append(lambda claim, allowed: claim.designated in designated)
    if condition.in_area is not None:
        in_area = condition.in_area
        checks.append(lambda claim, allowed: claim.in_area in in_area)
    if condition.referred is not None:
        referred = condition.referred
        checks.append(lambda claim, allowed: claim.referred in referred)
    if condition.member_category is not None:
        categories = condition.member_category
        checks.append(lambda claim, allowed: not categories.isdisjoint(claim.categories))
    group_prefixes = diagnosis_prefixes(condition, policy)
    if group_prefixes is not None:
        if not group_prefixes:
            return _never
        checks.append(lambda claim, allowed: _code(claim).startswith(group_prefixes))
    if condition.diagnosis is not None:
        prefixes = tuple(condition.diagnosis)
        if not prefixes:
            return _never
        checks.append(lambda claim, allowed: _code(claim).startswith(prefixes))
    if condition.allowed_below is not None:
        limit = condition.allowed_below
        checks.append(lambda claim, allowed: allowed < limit)
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda claim, allowed: first(claim, allowed) and second(claim, allowed)
    all_checks = tuple(checks)
    return lambda claim, allowed: all(check(claim, allowed) for check in all_checks)


def compile_when(when: When, policy: Policy) -> Predicate:
    if not when:
        return _always
    predicates = tuple(compile_condition(condition, policy) for condition in when)
    if len(predicates) == 1:
        return predicates[0]
    return lambda claim, allowed: any(predicate(claim, allowed) for predicate in predicates)


def categories_match(when: When, categories: frozenset[str]) -> bool:
    """`when` over a member's categories alone (contribution subsidies use only member_category)."""
    if not when:
        return True
    return any(
        condition.member_category is None or not condition.member_category.isdisjoint(categories) for condition in when
    )
