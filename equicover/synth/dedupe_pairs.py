"""A synthetic registry with known duplicates, to measure deduplication (tests and the benchmark).

Originals draw names from the synthetic province's name pools (Chinese, Vietnamese, Arabic,
Persian, French, each in its own script), a birth date, sex, an area, a household and, for most,
a 12-digit national ID laid out like a Vietnamese CCCD (province, sex/century, birth year,
serial). Duplicates copy an original and apply one or two of: a typo, a transliteration variant
(no Vietnamese tones, traditional Chinese or pinyin, Persian letter forms, tatweel and harakat,
French without accents), the family and given names swapped, the birth day missing (recorded as
the 1st). A duplicate often sits in another household, sometimes lacks the national ID, and
sometimes has a typo in it or lives in another area.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from equicover.registry.dedupe import prepare_frame
from equicover.synth.names import build_name_pools

if TYPE_CHECKING:
    import opencc

LOCALES = ("zh_CN", "vi_VN", "ar_AA", "fa_IR", "fr_FR")
LOCALE_WEIGHTS = (0.35, 0.35, 0.1, 0.1, 0.1)
FAMILY_FIRST = {"zh_CN", "vi_VN"}
PEOPLE_PER_AREA = 2_500


@dataclass
class SyntheticRegistry:
    people: pd.DataFrame  # id, full_name, birth_date (date), sex, household_id, area, national_id, locale
    true_pairs: set[tuple[int, int]]  # (smaller id, larger id) of every injected duplicate


def _typo(rng: np.random.Generator, text: str) -> str:
    letters = [index for index, char in enumerate(text) if char.isalpha()]
    if len(letters) < 3:
        return text
    index = int(rng.choice(letters[1:]))
    kind = rng.integers(4)
    if kind == 0:  # deletion
        return text[:index] + text[index + 1 :]
    if kind == 1 and index + 1 < len(text) and text[index + 1].isalpha():  # transposition
        return text[:index] + text[index + 1] + text[index] + text[index + 2 :]
    replacement = text[int(rng.choice(letters))]
    if kind == 2:  # insertion (a doubled letter)
        return text[:index] + replacement + text[index:]
    return text[:index] + replacement + text[index + 1 :]  # substitution


@lru_cache(maxsize=1)
def _simplified_to_traditional() -> opencc.OpenCC:
    import opencc

    return opencc.OpenCC("s2t")


_PERSIAN = str.maketrans({"ي": "ی", "ك": "ک", "ی": "ي", "ک": "ك"})


def _transliterate(rng: np.random.Generator, text: str, locale: str) -> str:
    import unicodedata

    if locale == "zh_CN":
        if rng.random() < 0.5:
            return _simplified_to_traditional().convert(text)
        from pypinyin import lazy_pinyin

        return " ".join(syllable.capitalize() for syllable in lazy_pinyin(text) if syllable.strip())
    if locale in ("ar_AA", "fa_IR"):
        varied = text.translate(_PERSIAN)
        # A tatweel or a fatha inside the first word: invisible to a reader, not to a computer.
        cut = max(1, len(varied) // 3)
        return varied[:cut] + ("\u0640" if rng.random() < 0.5 else "\u064e") + varied[cut:]
    # Latin: the name typed without its diacritics (a phone keyboard, an old database).
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def synthetic_registry(
    people: int, *, duplicate_share: float = 0.05, seed: int = 7, pool_size: int = 1_500
) -> SyntheticRegistry:
    rng = np.random.default_rng(seed)
    duplicates = int(round(people * duplicate_share))
    originals = people - duplicates
    pools = build_name_pools(LOCALES, seed, size=pool_size)
    locale_index = rng.choice(len(LOCALES), size=originals, p=np.array(LOCALE_WEIGHTS))
    sex_male = rng.random(originals) < 0.5
    family = np.empty(originals, dtype=object)
    given = np.empty(originals, dtype=object)
    for index, pool in enumerate(pools):
        chosen = np.flatnonzero(locale_index == index)
        family[chosen] = pool.family[rng.integers(len(pool.family), size=len(chosen))]
        male = sex_male[chosen]
        given_pool_male = pool.given_male[rng.integers(len(pool.given_male), size=len(chosen))]
        given_pool_female = pool.given_female[rng.integers(len(pool.given_female), size=len(chosen))]
        given[chosen] = np.where(male, given_pool_male, given_pool_female)
    family_first = np.isin(locale_index, [LOCALES.index(name) for name in FAMILY_FIRST])
    separator = np.where(locale_index == LOCALES.index("zh_CN"), "", " ")
    full_name = np.where(
        family_first,
        family + separator + given,
        given + " " + family,
    )
    start = np.datetime64("1930-01-01")
    birth = start + rng.integers(0, (np.datetime64("2023-12-31") - start).astype(int), size=originals).astype(
        "timedelta64[D]"
    )
    areas = max(1, originals // PEOPLE_PER_AREA)
    area = np.sort(rng.integers(areas, size=originals))
    household = np.arange(originals) // 4  # consecutive people of one area share a household
    has_id = rng.random(originals) < 0.85
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    century_sex = np.where(years >= 2000, 2, 0) + np.where(sex_male, 0, 1)
    serial = (
        rng.permutation(1_000_000)[:originals] if originals <= 1_000_000 else rng.integers(1_000_000, size=originals)
    )
    province = 10 + (area % 60)
    national_id = np.array(
        [f"{p:03d}{c}{y % 100:02d}{s:06d}" for p, c, y, s in zip(province, century_sex, years, serial)], dtype=object
    )
    national_id[~has_id] = None
    frame = pd.DataFrame(
        {
            "id": np.arange(1, originals + 1),
            "full_name": full_name,
            "family": family,
            "given": given,
            "birth_date": birth.astype("datetime64[D]"),
            "sex": np.where(sex_male, "male", "female"),
            "household_id": household + 1,
            "area": area + 1,
            "national_id": national_id,
            "locale": np.array(LOCALES, dtype=object)[locale_index],
        }
    )

    sources = rng.choice(originals, size=duplicates, replace=False)
    copies = frame.iloc[sources].copy().reset_index(drop=True)
    copies["id"] = np.arange(originals + 1, originals + duplicates + 1)
    names: list[str] = []
    births: list[np.datetime64] = []
    kinds = ("typo", "transliteration", "swapped", "missing_day")
    columns = (copies[column].tolist() for column in ("locale", "family", "given", "birth_date"))
    for locale, family, given, birth_value in zip(*columns):
        changes = set(rng.choice(len(kinds), size=int(rng.integers(1, 3)), replace=False).tolist())
        first, second = (family, given) if locale in FAMILY_FIRST else (given, family)
        joiner = "" if locale == "zh_CN" else " "
        if 2 in changes:  # swapped name order
            first, second = second, first
            joiner = " " if locale == "zh_CN" else joiner
        name = f"{first}{joiner}{second}"
        if 1 in changes:
            name = _transliterate(rng, name, locale)
        if 0 in changes:
            name = _typo(rng, name)
        names.append(name)
        if 3 in changes:
            birth_value = (
                birth_value.replace(day=1)
                if birth_value.day != 1
                else birth_value.replace(day=1, month=1 if birth_value.month != 1 else 2)
            )
        births.append(np.datetime64(birth_value, "D"))
    copies["full_name"] = names
    copies["birth_date"] = np.array(births, dtype="datetime64[D]")
    moved = rng.random(duplicates)
    copies.loc[moved < 0.5, "household_id"] = household.max() + 2 + np.arange(int((moved < 0.5).sum()))
    copies.loc[moved < 0.1, "area"] = rng.integers(1, areas + 1, size=int((moved < 0.1).sum()))
    id_change = rng.random(duplicates)
    copies.loc[id_change < 0.3, "national_id"] = None
    typo_ids = (id_change >= 0.3) & (id_change < 0.35) & copies["national_id"].notna().to_numpy()
    copies.loc[typo_ids, "national_id"] = [
        value[:-2] + str((int(value[-2]) + 1) % 10) + value[-1] for value in copies.loc[typo_ids, "national_id"]
    ]
    people_frame = pd.concat([frame, copies], ignore_index=True).drop(columns=["family", "given"])
    true_pairs = {(int(source + 1), int(copy_id)) for source, copy_id in zip(sources, copies["id"])}
    return SyntheticRegistry(people=people_frame, true_pairs=true_pairs)


def as_splink_frame(registry: SyntheticRegistry) -> pd.DataFrame:
    people = registry.people
    return prepare_frame(
        ids=people["id"].to_numpy(),
        full_names=people["full_name"].tolist(),
        birth_dates=[dt.date.fromisoformat(str(value)[:10]) for value in people["birth_date"].to_numpy()],
        sexes=people["sex"].tolist(),
        household_ids=people["household_id"].tolist(),
        areas=people["area"].tolist(),
        national_ids=people["national_id"].tolist(),
    )


def pair_scores(found: set[tuple[int, int]], truth: set[tuple[int, int]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of found pairs against the true pairs."""
    hits = len(found & truth)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
