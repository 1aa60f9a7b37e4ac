"""One 20,000-person province and its claims, generated once per test session (no database)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from equicover.synth.claims import generate_claims
from equicover.synth.claims_file import claims_table, write_claims
from equicover.synth.generator import Claims, SyntheticProvince, generate_province

PEOPLE = 20_000
SEED = 7
YEAR = 2018
FIRST_PERSON_ID = 1  # what `generate` uses without a database, and in a fresh one


@dataclass(frozen=True)
class GeneratedProvince:
    province: SyntheticProvince
    claims: Claims
    claims_path: Path
    people: int
    year: int
    first_person_id: int
    rows: list[dict[str, str]]  # the claims file as read back by the csv module
    header: list[str]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProvince:
    """The pieces `equicover.synth.service.generate` chains (tested whole in the determinism and
    load tests), kept apart here so the tests can see the arrays behind the file."""
    claims_path = tmp_path_factory.mktemp("synth") / "claims.csv"
    province = generate_province(people=PEOPLE, seed=SEED, year=YEAR)
    claims = generate_claims(province)
    write_claims(
        claims_table(claims, providers=province.providers, first_person_id=FIRST_PERSON_ID, year=YEAR), claims_path
    )
    with claims_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, values, strict=True)) for values in reader]
    return GeneratedProvince(
        province=province,
        claims=claims,
        claims_path=claims_path,
        people=PEOPLE,
        year=YEAR,
        first_person_id=FIRST_PERSON_ID,
        rows=rows,
        header=header,
    )
