"""Same seed, same province and same claims file, byte for byte; another seed, another province."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from equicover.synth.generator import generate_province
from equicover.synth.service import generate

PEOPLE = 3_000


def _claims_bytes(tmp_path: Path, name: str, seed: int, year: int = 2018) -> bytes:
    path = tmp_path / name
    generate(people=PEOPLE, seed=seed, year=year, claims_path=path)
    return path.read_bytes()


def test_same_seed_gives_an_identical_claims_file(tmp_path: Path):
    first = _claims_bytes(tmp_path, "a.csv", seed=11)
    assert first == _claims_bytes(tmp_path, "b.csv", seed=11)
    assert first.count(b"\n") > PEOPLE


def test_another_seed_gives_other_claims(tmp_path: Path):
    assert _claims_bytes(tmp_path, "a.csv", seed=11) != _claims_bytes(tmp_path, "b.csv", seed=12)


def test_same_seed_gives_identical_arrays_and_another_seed_different_people():
    first = generate_province(people=PEOPLE, seed=21, year=2018)
    again = generate_province(people=PEOPLE, seed=21, year=2018)
    other = generate_province(people=PEOPLE, seed=22, year=2018)
    for name in ("birth_date", "full_name", "national_id", "category_mask", "person_household"):
        assert np.array_equal(getattr(first.population, name), getattr(again.population, name)), name
    assert np.array_equal(first.enrolments.person, again.enrolments.person)
    assert not np.array_equal(first.population.birth_date, other.population.birth_date)
    assert first.locations.codes[0] != other.locations.codes[0]


def test_the_year_option_moves_every_claim_into_that_year(tmp_path: Path):
    lines = _claims_bytes(tmp_path, "leap.csv", seed=3, year=2020).decode().splitlines()[1:]
    dates = [dt.date.fromisoformat(line.split(",")[2]) for line in lines]
    assert min(dates).year == max(dates).year == 2020
    assert max(dates) > dt.date(2020, 12, 1)


def test_people_must_be_positive():
    with pytest.raises(ValueError, match="people must be at least 1"):
        generate(people=0, seed=1)


def test_progress_only_moves_forward_and_ends_complete(tmp_path: Path):
    reports: list[tuple[str, int, int]] = []
    generate(people=500, seed=2, claims_path=tmp_path / "claims.csv", progress=lambda *report: reports.append(report))
    done = [done for _, done, _ in reports]
    assert done == sorted(done)
    assert reports[-1][1] == reports[-1][2] > 0
    assert not (tmp_path / "claims.csv.partial").exists()
