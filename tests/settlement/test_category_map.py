"""``[categories]``: a policy's category words mapped to the registry's, checked when it loads."""

from __future__ import annotations

import pytest

from equicover.settlement.contributions import ContributionMember, compute_contributions
from equicover.settlement.loader import PolicyError, load_policy_text

HEADER = """
[policy]
id = "mapped"
name = "Mapped categories"
currency = "VND"
effective_from = 2025-01-01
provider_levels = ["district"]
care_types = ["inpatient"]
source = "a test"
"""

LAYER = """
[[layer]]
id = "fund"
payer = "Fund"
when = [ { member_category = ["minority_difficult_area"] } ]

  [[layer.variant]]
  bands = [ { ratio = 1 } ]
"""


def test_a_word_maps_to_the_registry_categories_it_stands_for():
    text = HEADER + '\n[categories]\nminority_difficult_area = ["ethnic_minority", "minority_difficult_area"]\n' + LAYER
    policy = load_policy_text(text, path="mapped.toml")
    (condition,) = policy.layers[0].when
    assert condition.member_category == frozenset({"ethnic_minority", "minority_difficult_area"})


def test_a_category_not_in_the_map_is_refused_at_load_time_with_its_line():
    text = HEADER + '\n[categories]\nnear_poor = ["near_poor"]\n' + LAYER
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, path="mapped.toml")
    (problem,) = refused.value.problems
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if "minority_difficult_area" in row)
    assert (problem.file, problem.line, problem.key) == ("mapped.toml", line, "layer[0].when[0].member_category[0]")
    assert "'minority_difficult_area' is not mapped" in problem.message


def test_without_a_map_the_policy_speaks_the_registry_words():
    policy = load_policy_text(HEADER + LAYER, path="plain.toml")
    assert policy.layers[0].when[0].member_category == frozenset({"minority_difficult_area"})


def test_a_map_entry_must_list_registry_categories():
    with pytest.raises(PolicyError, match="categories.minority_difficult_area"):
        load_policy_text(HEADER + "\n[categories]\nminority_difficult_area = []\n" + LAYER, path="bad.toml")


def test_contribution_rules_use_the_map_too():
    text = (
        HEADER
        + '\n[categories]\nminority_difficult_area = ["ethnic_minority"]\n'
        + LAYER
        + """
[contribution]
kind = "flat"
amount = "100000"

  [[contribution.subsidy]]
  when = { member_category = ["minority_difficult_area"] }
  shares = { state_budget = 1.0 }
"""
    )
    rules = load_policy_text(text, path="mapped.toml").contribution
    assert rules is not None
    rows = compute_contributions(rules, [ContributionMember("H1", "m1", frozenset({"ethnic_minority"}))])
    assert {(row.payer, row.amount) for row in rows} == {("state_budget", 100_000), ("member", 0)}
