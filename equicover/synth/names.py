"""Pools of names per locale, drawn once with Faker and then sampled with numpy.

Calling Faker per person costs tens of microseconds; a million people would take a minute on
names alone. Instead each locale gets a pool of family names and of given names per sex, drawn
with a seeded Faker (so Faker's own frequency weights shape the pool), and people draw indexes
into the pools.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faker import Faker

from equicover.synth.profile import People

POOL_SIZE = 1_500


@dataclass(frozen=True)
class NamePool:
    locale: str
    family: np.ndarray  # object array of str
    given_female: np.ndarray
    given_male: np.ndarray


def _given_name(faker: Faker, locale: str, *, male: bool) -> str:
    first = faker.first_name_male() if male else faker.first_name_female()
    if locale == "vi_VN":
        # Vietnamese given names are a middle name and a first name ("Thị Lan", "Văn Hùng").
        return f"{faker.middle_name()} {first}"
    return first


def build_name_pool(locale: str, seed: int, size: int = POOL_SIZE) -> NamePool:
    faker = Faker(locale)
    faker.seed_instance(seed)
    family = np.array([faker.last_name() for _ in range(size)], dtype=object)
    given_female = np.array([_given_name(faker, locale, male=False) for _ in range(size)], dtype=object)
    given_male = np.array([_given_name(faker, locale, male=True) for _ in range(size)], dtype=object)
    return NamePool(locale=locale, family=family, given_female=given_female, given_male=given_male)


def build_name_pools(locales: tuple[str, ...], seed: int, size: int = POOL_SIZE) -> tuple[NamePool, ...]:
    return tuple(build_name_pool(locale, seed * 1_000 + index, size) for index, locale in enumerate(locales))


def build_people_pools(peoples: Sequence[People], seed: int, size: int = POOL_SIZE) -> tuple[NamePool, ...]:
    """One pool per people of a profile: drawn with Faker for a locale, or the profile's own
    lists (a language Faker does not know, such as Khmer), each list shuffled by the seed."""
    pools = []
    for index, people in enumerate(peoples):
        if people.locale is not None and not people.family:
            pools.append(build_name_pool(people.locale, seed * 1_000 + index, size))
            continue
        rng = np.random.default_rng(seed * 1_000 + index)
        pools.append(
            NamePool(
                locale=people.locale or people.script,
                family=rng.permutation(np.array(people.family, dtype=object)),
                given_female=rng.permutation(np.array(people.given_female, dtype=object)),
                given_male=rng.permutation(np.array(people.given_male, dtype=object)),
            )
        )
    return tuple(pools)
