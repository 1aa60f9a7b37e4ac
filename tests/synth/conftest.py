"""One 20,000-person province and its claims, generated once per test session (no database)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

from equicover.synth.claims import generate_claims
from equicover.synth.generator import Claims, SyntheticProvince, generate_province
from equicover.synth.service import GenerationSummary, generate

PEOPLE = 20_000
SEED = 7
YEAR = 2018


@dataclass(frozen=True)
class GeneratedProvince:
    province: SyntheticProvince
    claims: Claims
    summary: GenerationSummary
    claims_path: Path
    rows: list[dict[str, str]]  # the claims file as read back by the csv module
    header: list[str]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedProvince:
    claims_path = tmp_path_factory.mktemp("synth") / "claims.csv"
    summary = generate(people=PEOPLE, seed=SEED, year=YEAR, claims_path=claims_path)
    province = generate_province(people=PEOPLE, seed=SEED, year=YEAR)
    with claims_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, values, strict=True)) for values in reader]
    return GeneratedProvince(
        province=province,
        claims=generate_claims(province),
        summary=summary,
        claims_path=claims_path,
        rows=rows,
        header=header,
    )
