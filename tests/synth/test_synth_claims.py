"""The claims file: every row valid against the settlement contract, and realistic as a whole."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from equicover.money import format_money, parse_money
from equicover.settlement.model import Claim
from equicover.synth import parameters as P
from equicover.synth.claims_file import claims_table, money_text, write_claims

from .synth_helpers import age_on

MONEY = re.compile(r"^\d+\.\d{2}$")
ICD10 = re.compile(r"^[A-TV-Z]\d{2}(\.\d{1,2})?$")
CHRONIC_PREFIXES = ("E11", "I10", "N18", "J44", "I25", "F20", "M05", "C50")
BOOLEAN = {"true": True, "false": False}


def _claim(row: dict[str, str]) -> Claim:
    """The row as the settlement engine's typed claim (parsing as the contract says)."""
    return Claim(
        claim_id=row["claim_id"],
        member_id=row["member_id"],
        service_date=dt.date.fromisoformat(row["service_date"]),
        provider_id=row["provider_id"],
        provider_level=row["provider_level"],
        designated=BOOLEAN[row["designated"]],
        in_area=BOOLEAN[row["in_area"]],
        referred=BOOLEAN[row["referred"]],
        care_type=row["care_type"],
        diagnosis=row["diagnosis"],
        days=int(row["days"]),
        total=parse_money(row["total"], P.MINOR_DIGITS),
        eligible=parse_money(row["eligible"], P.MINOR_DIGITS),
        categories=frozenset(row["categories"].split(";")) - {""},
    )


def test_header_is_the_contract_columns_in_order(generated):
    assert generated.header == list(P.CLAIM_COLUMNS)
    assert generated.claims_path.read_bytes().startswith(b"claim_id,member_id,service_date,")


def test_every_row_is_valid_against_the_contract(generated):
    rows = generated.rows
    assert len(rows) == generated.claims.size > 50_000
    year = generated.year
    seen_ids: set[str] = set()
    for row in rows:
        assert MONEY.match(row["total"]) and MONEY.match(row["eligible"]), row["claim_id"]
        claim = _claim(row)
        assert claim.claim_id not in seen_ids
        seen_ids.add(claim.claim_id)
        assert 0 < claim.eligible <= claim.total
        assert claim.provider_level in P.PROVIDER_LEVELS
        assert claim.care_type in P.CARE_TYPES
        assert ICD10.match(claim.diagnosis), claim.diagnosis
        assert claim.service_date.year == year
        assert claim.categories <= set(P.CATEGORIES)
        assert row["categories"] == ";".join(name for name in P.CATEGORIES if name in claim.categories)
        if claim.care_type in ("outpatient", "chronic_outpatient"):
            assert claim.days == 0
        elif claim.care_type == "inpatient":
            assert 1 <= claim.days <= 365
        else:
            assert claim.days in (0, 1)


def test_claims_are_in_date_order(generated):
    dates = [row["service_date"] for row in generated.rows]
    assert dates == sorted(dates)


def test_claims_belong_to_enrolled_members_inside_their_enrolment(generated):
    province = generated.province
    first_id = generated.first_person_id
    enrolments = province.enrolments
    period = {
        int(person) + first_id: (starts.astype(object), ends.astype(object))
        for person, starts, ends in zip(enrolments.person, enrolments.starts, enrolments.ends, strict=True)
    }
    for row in generated.rows:
        starts, ends = period[int(row["member_id"])]
        assert starts <= dt.date.fromisoformat(row["service_date"]) <= ends


def test_claim_categories_are_the_members_categories_on_the_service_date(generated):
    population = generated.province.population
    first_id = generated.first_person_id
    births = population.birth_date.astype(object)
    for row in generated.rows[::7]:
        person = int(row["member_id"]) - first_id
        expected = {
            name for name, bit in P.CATEGORY_BIT.items() if population.category_mask[person] & bit and name != "elderly"
        }
        if age_on(births[person], dt.date.fromisoformat(row["service_date"])) >= P.ELDERLY_AGE:
            expected.add("elderly")
        assert set(row["categories"].split(";")) - {""} == expected


def test_providers_match_their_level_and_designation(generated):
    providers = generated.province.providers
    level_of = dict(
        zip(providers.codes.tolist(), (P.PROVIDER_LEVELS[level] for level in providers.levels), strict=True)
    )
    designated_of = dict(zip(providers.codes.tolist(), providers.designated.tolist(), strict=True))
    for row in generated.rows:
        assert level_of[row["provider_id"]] == row["provider_level"]
        assert designated_of[row["provider_id"]] == BOOLEAN[row["designated"]]


def test_chronic_outpatient_claims_carry_chronic_diagnoses(generated):
    chronic = [row["diagnosis"] for row in generated.rows if row["care_type"] == "chronic_outpatient"]
    assert chronic
    assert all(code.startswith(CHRONIC_PREFIXES) for code in chronic)
    inpatient = Counter(row["diagnosis"][:3] for row in generated.rows if row["care_type"] == "inpatient")
    for common in ("K35", "O80", "J18", "I63", "S72"):
        assert inpatient[common] > 0, common
    assert sum(count for code, count in inpatient.items() if code.startswith("C")) > 0


def test_utilisation_is_realistic_and_higher_for_poor_elderly_and_chronic(generated):
    province = generated.province
    population = province.population
    first_id = generated.first_person_id
    enrolled = province.enrolments.person
    visits = np.zeros(population.size)
    admissions = np.zeros(population.size)
    for row in generated.rows:
        person = int(row["member_id"]) - first_id
        if row["care_type"] == "outpatient":
            visits[person] += 1
        elif row["care_type"] == "inpatient":
            admissions[person] += 1
    # Ya'an's rates: 2.3 visits and 0.05 admissions a person before age, frailty and poverty.
    assert 2.0 <= visits[enrolled].mean() <= 5.0
    assert 0.055 <= admissions[enrolled].mean() <= 0.10
    is_enrolled = np.zeros(population.size, dtype=bool)
    is_enrolled[enrolled] = True
    elderly = is_enrolled & (population.age >= 65)
    working_age = is_enrolled & (population.age >= 15) & (population.age < 65)
    assert admissions[elderly].mean() > 1.5 * admissions[working_age].mean()
    poor = is_enrolled & ((population.category_mask & P.CATEGORY_BIT["registered_poor"]) != 0)
    assert visits[poor].mean() > visits[is_enrolled & ~poor].mean()
    chronic = is_enrolled & (population.chronic_condition >= 0)
    assert admissions[chronic].mean() > admissions[is_enrolled & ~chronic].mean()


def test_amounts_rise_with_level_and_inpatient_bills_have_a_heavy_tail(generated):
    by_level: dict[str, list[float]] = defaultdict(list)
    eligible_share: list[float] = []
    by_care: dict[str, list[float]] = defaultdict(list)
    for row in generated.rows:
        total = parse_money(row["total"], 2) / 100
        by_care[row["care_type"]].append(total)
        eligible_share.append(parse_money(row["eligible"], 2) / parse_money(row["total"], 2))
        if row["care_type"] == "inpatient":
            by_level[row["provider_level"]].append(total)
    medians = [np.median(by_level[level]) for level in P.PROVIDER_LEVELS]
    assert medians == sorted(medians)
    inpatient = np.array(by_care["inpatient"])
    assert np.mean(inpatient) > 1.5 * np.median(inpatient)
    assert np.percentile(inpatient, 99.5) > 8 * np.median(inpatient)
    assert 1_000 <= np.median(inpatient) <= 15_000
    assert np.median(by_care["outpatient"]) < np.median(by_care["emergency"]) < np.median(inpatient)
    assert 0.80 <= np.mean(eligible_share) <= 0.95
    assert min(eligible_share) >= 0.6


def test_areas_referrals_and_dates_spread(generated):
    rows = generated.rows
    in_area = np.mean([row["in_area"] == "true" for row in rows])
    assert 0.85 <= in_area <= 0.95
    higher_admissions = [
        row for row in rows if row["care_type"] == "inpatient" and row["provider_level"] in ("city", "province")
    ]
    assert np.mean([row["referred"] == "true" for row in higher_admissions]) >= 0.7
    assert all(row["referred"] == "false" for row in rows if row["provider_level"] == "township")
    months = Counter(row["service_date"][5:7] for row in rows)
    assert len(months) == 12
    assert min(months.values()) > 0.5 * max(months.values())


def test_parquet_holds_the_same_table_as_csv(generated, tmp_path: Path):
    table = claims_table(
        generated.claims,
        providers=generated.province.providers,
        first_person_id=generated.first_person_id,
        year=generated.year,
    )
    write_claims(table, tmp_path / "claims.parquet")
    from_parquet = pq.read_table(tmp_path / "claims.parquet")
    from_csv = pa_csv.read_csv(
        generated.claims_path,
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(P.CLAIM_COLUMNS, "string")),
    )
    assert from_parquet.column_names == list(P.CLAIM_COLUMNS)
    for name in P.CLAIM_COLUMNS:
        parquet_text = [
            str(value).lower() if isinstance(value, bool) else str(value)
            for value in from_parquet.column(name).to_pylist()
        ]
        csv_text = [value if value is not None else "" for value in from_csv.column(name).to_pylist()]
        assert parquet_text == csv_text, name


@given(st.lists(st.integers(min_value=-(10**15), max_value=10**15), min_size=1, max_size=50))
def test_money_text_is_format_money(amounts):
    assert money_text(np.array(amounts, dtype=np.int64)).to_pylist() == [format_money(amount, 2) for amount in amounts]
