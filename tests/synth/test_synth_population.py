"""The synthetic population: tree, households, ages, names, identity numbers, categories, enrolment."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import numpy as np
import pytest

from equicover.synth import parameters as P
from equicover.synth.generator import AREA_BIT, generate_province
from equicover.synth.profile import get_profile

from .synth_helpers import age_on, share_with_category

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def test_location_tree_has_one_province_8_to_12_districts_and_communes_under_them(generated):
    tree = generated.province.locations
    levels = Counter(tree.levels.tolist())
    assert levels["province"] == 1
    assert 8 <= levels["district"] <= 12
    assert levels["commune"] >= 3 * levels["district"]
    assert len(set(tree.codes.tolist())) == len(tree.codes)
    for index, level in enumerate(tree.levels):
        parent = tree.parents[index]
        expected_parent_level = {"province": None, "district": "province", "commune": "district"}[level]
        if expected_parent_level is None:
            assert parent == -1
        else:
            assert parent < index and tree.levels[parent] == expected_parent_level
            assert tree.codes[index].startswith(tree.codes[parent] + "-")


def test_providers_by_level_per_district(generated):
    tree = generated.province.locations
    providers = generated.province.providers
    levels = np.array(P.PROVIDER_LEVELS)[providers.levels]
    for district in range(tree.district_count):
        here = providers.district == district
        assert (levels[here] == "county").sum() == 1
        assert (levels[here] == "township").sum() >= P.MIN_COMMUNES
    assert (levels == "city").sum() == P.CITY_HOSPITALS
    assert (levels == "province").sum() == 1
    assert len(set(providers.codes.tolist())) == len(providers.codes)


def test_household_sizes_are_realistic(generated):
    sizes = generated.province.population.household_sizes
    assert sizes.sum() == generated.people
    assert 3.4 <= sizes.mean() <= 4.0
    assert sizes.min() == 1 and sizes.max() >= 8
    assert 0.05 <= (sizes == 1).mean() <= 0.2


def test_no_birth_date_in_the_future_and_ages_follow_a_pyramid(generated):
    population = generated.province.population
    year_start = dt.date(generated.year, 1, 1)
    births = population.birth_date.astype(object)
    assert max(births) < year_start <= dt.date.today()
    ages = np.array([age_on(birth, year_start) for birth in births])
    assert (ages == population.age).all()
    assert 0 <= ages.min() and ages.max() <= P.MAX_AGE
    assert 0.15 <= (ages < 15).mean() <= 0.30
    assert 0.08 <= (ages >= 65).mean() <= 0.16
    assert (ages >= 80).mean() < (ages < 5).mean()


def test_deaths_fall_in_the_year_after_birth(generated):
    population = generated.province.population
    dead = ~np.isnat(population.death_date)
    assert 0.002 <= dead.mean() <= 0.02
    assert (population.death_date[dead] >= np.datetime64(f"{generated.year}-01-01")).all()
    assert (population.death_date[dead] <= np.datetime64(f"{generated.year}-12-31")).all()


def test_the_default_province_is_yaan_in_chinese_names(generated):
    names = generated.province.population.full_name.tolist()
    assert all(isinstance(name, str) and name.strip() for name in names)
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", name) for name in names)
    assert set(generated.province.population.name_script.tolist()) == {"Hans"}
    districts = set(generated.province.locations.names[generated.province.locations.district_locations].tolist())
    assert districts <= {"雨城区", "名山区", "荥经县", "汉源县", "石棉县", "天全县", "芦山县", "宝兴县"}


# Every name of a province is written in its people's script (and nothing else of another's).
PROFILE_NAMES = {
    "kh-takeo": (r"[\u1780-\u17ff]+ [\u1780-\u17ff]+", "Khmr"),
    "ir-tehran": (r"[\u0600-\u06ff\u200c ]+", "Arab"),
    "ma-marrakech": (r"[\u0600-\u06ff ]+", "Arab"),
    "vn-laocai": (r"[A-Za-zÀ-ỹĐđ ]+", "Latn"),
}


@pytest.mark.parametrize("profile_id", sorted(PROFILE_NAMES))
def test_each_province_is_of_one_country(profile_id: str):
    profile = get_profile(profile_id)
    province = generate_province(people=2_000, seed=11, year=2020, profile=profile)
    pattern, script = PROFILE_NAMES[profile_id]
    names = province.population.full_name.tolist()
    assert all(re.fullmatch(pattern, name) for name in names), [n for n in names if not re.fullmatch(pattern, n)][:3]
    assert set(province.population.name_script.tolist()) == {script}
    tree = province.locations
    assert tree.names[0] == profile.province_name
    assert set(tree.names[tree.district_locations].tolist()) <= set(profile.district_names)


def test_iran_neighbourhoods_are_assigned_to_the_seeds_organisations():
    profile = get_profile("ir-tehran")
    province = generate_province(people=30_000, seed=5, year=2023, profile=profile)
    tree = province.locations
    deprived = tree.commune_in_area_category
    # every deprived neighbourhood has a responsible organisation, the others none
    assert (tree.commune_organisation[deprived] >= 0).all() and (tree.commune_organisation[~deprived] == -1).all()
    # its residents, and only they, hold the area category
    holds = (province.population.category_mask & AREA_BIT) != 0
    assert (holds == deprived[province.population.person_commune]).all()


def test_household_members_share_the_family_name_of_the_head_except_spouses(generated):
    population = generated.province.population
    children = population.person_rank >= 2
    heads = np.flatnonzero(population.person_rank == 0)
    head_family = population.family_name[heads][population.person_household]
    # Elder parents are the head's parents, also of the family; a few pools repeat names anyway.
    assert (population.family_name[children] == head_family[children]).mean() > 0.99


def test_national_ids_are_unique_per_type_well_formed_and_missing_for_about_one_percent(generated):
    population = generated.province.population
    by_type: dict[str, list[str]] = {}
    for id_type, number in zip(population.id_type.tolist(), population.national_id.tolist(), strict=True):
        assert (id_type is None) == (number is None)
        if id_type is not None:
            by_type.setdefault(id_type, []).append(number)
    for numbers in by_type.values():
        assert len(set(numbers)) == len(numbers)
    missing = sum(value is None for value in population.id_type.tolist()) / population.size
    assert 0.004 <= missing <= 0.02
    births = population.birth_date.astype(object)
    for index, number in enumerate(population.national_id.tolist()):
        if population.id_type[index] != P.NATIONAL_ID_TYPE:
            continue
        assert re.fullmatch(r"\d{17}[\dX]", number)
        assert number[6:14] == births[index].strftime("%Y%m%d")
        assert int(number[16]) % 2 == int(population.male[index])
        check = "10X98765432"[sum(int(digit) * weight for digit, weight in zip(number[:17], ID_WEIGHTS)) % 11]
        assert number[17] == check


def test_category_shares_are_within_the_documented_ranges(generated):
    population = generated.province.population
    year_start = np.datetime64(f"{generated.year}-01-01")
    expected = {
        "registered_poor": (0.07, 0.16),
        "near_poor": (0.05, 0.12),
        "low_income": (0.03, 0.08),
        "ethnic_minority": (0.05, 0.35),
        "student": (0.10, 0.25),
        "disabled": (0.02, 0.07),
        "foreign_national": (0.002, 0.04),
    }
    for category, (low, high) in expected.items():
        assert low <= share_with_category(population.category_mask, category) <= high, category
    elderly = (population.elderly_from <= year_start).mean()
    assert 0.08 <= elderly <= 0.16
    # Poverty tiers exclude each other; foreign nationals are not registered poor.
    mask = population.category_mask
    poor = (mask & P.CATEGORY_BIT["registered_poor"]) != 0
    near = (mask & P.CATEGORY_BIT["near_poor"]) != 0
    low = (mask & P.CATEGORY_BIT["low_income"]) != 0
    foreign = (mask & P.CATEGORY_BIT["foreign_national"]) != 0
    assert not (poor & near).any() and not (poor & low).any() and not (near & low).any()
    assert not (poor & foreign).any()
    # Poverty is a household status: all members share it.
    household_poor = np.zeros(len(population.household_codes), dtype=int)
    np.add.at(household_poor, population.person_household, poor)
    assert set(
        np.unique(
            household_poor[population.person_household][poor]
            == population.household_sizes[population.person_household][poor]
        )
    ) == {True}


def test_students_are_of_school_age(generated):
    population = generated.province.population
    students = (population.category_mask & P.CATEGORY_BIT["student"]) != 0
    assert population.age[students].min() >= 6 and population.age[students].max() <= 22


def test_enrolment_covers_about_ninety_percent_and_every_registered_poor(generated):
    population = generated.province.population
    enrolments = generated.province.enrolments
    enrolled = np.zeros(population.size, dtype=bool)
    enrolled[enrolments.person] = True
    assert len(np.unique(enrolments.person)) == len(enrolments.person)
    assert 0.87 <= enrolled.mean() <= 0.93
    poor = (population.category_mask & P.CATEGORY_BIT["registered_poor"]) != 0
    assert enrolled[poor].all()
    assert enrolled[~poor].mean() < 0.92


def test_contributions_split_by_payer_and_sum_to_the_contribution(generated):
    population = generated.province.population
    enrolments = generated.province.enrolments
    totals = np.zeros(len(enrolments.person), dtype=np.int64)
    np.add.at(totals, enrolments.contribution_enrolment, enrolments.contribution_amount)
    assert (totals == P.CONTRIBUTION_PER_PERSON).all()
    assert (enrolments.contribution_amount > 0).all()
    by_enrolment: dict[int, dict[str, int]] = {}
    for enrolment, payer, amount in zip(
        enrolments.contribution_enrolment.tolist(),
        enrolments.contribution_payer.tolist(),
        enrolments.contribution_amount.tolist(),
        strict=True,
    ):
        by_enrolment.setdefault(enrolment, {})[P.PAYERS[payer]] = amount
    mask = population.category_mask[enrolments.person]
    poor = np.flatnonzero((mask & P.CATEGORY_BIT["registered_poor"]) != 0)
    near = np.flatnonzero((mask & P.CATEGORY_BIT["near_poor"]) != 0)
    assert len(poor) and len(near)
    for index in poor.tolist():
        assert by_enrolment[index] == {"state_budget": 22_000}
    for index in near.tolist():
        assert by_enrolment[index] == {"state_budget": 15_400, "member": 6_600}


def test_lao_cai_enrols_about_the_share_seed_003_reports():
    profile = get_profile("vn-laocai")
    assert (89.18, "insured in Lào Cai on 28 November 2025 (seed 003: 1,492,057 people)") in profile.coverage_targets
    province = generate_province(people=8_000, seed=2, year=2025, profile=profile)
    enrolled = len(np.unique(province.enrolments.person)) / province.population.size
    assert 0.86 <= enrolled <= 0.93
