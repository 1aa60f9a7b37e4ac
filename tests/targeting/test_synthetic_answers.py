"""Synthetic answers follow a household's consumption against the rules' own line: without noise the
rules identify exactly the households under their eligibility line; the errors come from the noise of
the answers and grow with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from equicover.targeting.loader import load_rules
from equicover.targeting.quality import quality_of
from equicover.targeting.rules import NOT_IDENTIFIED
from equicover.targeting.scoring import score_answers
from equicover.targeting.synthetic import answers_following, eligibility_lines, generate
from tests.targeting.helpers import CN, KH, MA, SHIPPED, VN


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_without_noise_the_rules_identify_exactly_the_households_under_their_line(path: Path) -> None:
    rules = load_rules(path)
    synthetic = generate(rules, 3_000, seed=11, noise=0.0, income_noise=0.0)
    report = quality_of(rules, synthetic.table, true_line=synthetic.true_line).total
    assert report.truly_poor > 0 and report.households - report.truly_poor > 0
    assert report.identified == report.truly_poor
    assert report.included_not_poor == report.excluded_poor == 0


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_errors_grow_with_the_noise_of_the_answers(path: Path) -> None:
    rules = load_rules(path)
    errors = []
    for noise in (0.0, 0.4, 1.2):
        synthetic = generate(rules, 4_000, seed=12, noise=noise, income_noise=noise * 0.4)
        total = quality_of(rules, synthetic.table, true_line=synthetic.true_line).total
        errors.append(total.included_not_poor + total.excluded_poor)
    assert errors[0] == 0 < errors[1] < errors[2]


def _lines(path: Path, *area_types: str) -> list[int]:
    lines = eligibility_lines(load_rules(path), np.array(area_types))
    assert lines is not None
    return [int(line) for line in lines]


def test_the_eligibility_line_is_the_highest_line_of_the_area_type() -> None:
    # China: national 3,335 and margin 5,002.50 yuan a year, the margin with two deprivations
    assert _lines(CN, "rural") == [500_250]
    # Viet Nam: 1.5 million dong a month in the country, 2 million in towns
    assert _lines(VN, "rural", "urban") == [18_000_000, 24_000_000]
    # Morocco: lines for towns only; rural households are measured against the highest
    assert _lines(MA, "rural", "urban") == [565_000, 565_000]
    # IDPoor scores without a line: the caller gives one
    assert eligibility_lines(load_rules(KH), np.array(["rural"])) is None


def test_answers_of_known_households_follow_their_consumption_against_the_line() -> None:
    """Two households far under and far over Morocco's line, in towns and in the country: the
    rules put the poor ones in a category and leave the others out, with the usual noise."""
    rules = load_rules(MA)
    count = 400
    consumption = np.concatenate([np.full(count, 150_000), np.full(count, 3_000_000)])  # centimes a person a year
    area_types = np.array(["urban", "rural"] * count)
    answers = answers_following(
        rules,
        consumption=consumption,
        members=np.full(2 * count, 4),
        area_types=area_types,
        true_line=np.full(2 * count, 565_000),
        seed=3,
    )
    rows = [
        {"household": f"H{index}", "area_type": str(area_types[index])}
        | {item: str(values[index]) for item, values in answers.items() if values[index] != ""}
        for index in range(2 * count)
    ]
    scored, errors = score_answers(rules, rows)
    assert not errors
    identified = np.array([entry.category != NOT_IDENTIFIED for entry in sorted(scored, key=lambda e: e.line)])
    assert identified[:count].mean() > 0.8 > 0.2 > identified[count:].mean()
