"""Payer and programme names in each language of the application: optional in a policy file,
checked like every other key, read in the user's language with English, then the file's own text,
as the fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from equicover.settlement.loader import load_policy, load_policy_text
from equicover.settlement.model import NAME_LANGUAGES
from equicover.web.i18n import LANGUAGES
from tests.settlement.test_loader import GOOD, line_of, problems_of

POLICIES = sorted((Path(__file__).resolve().parents[2] / "policies").glob("*.toml"))

NAMED = (
    GOOD.replace(
        'source = "hand-written for the tests"\n',
        'source = "hand-written for the tests"\nnames = { fr = "Programme d\'essai", zh = "测试方案" }\n',
    )
    + """
[layer.names]
en = "Tilt payment"
ar = "الدفعة التفضيلية"
"""
)


def test_names_are_optional_and_the_files_text_stays_the_default() -> None:
    policy = load_policy_text(GOOD)
    assert policy.names == () and policy.name_in("fr") == "Test programme"
    assert [layer.payer_in("zh") for layer in policy.layers] == ["Basic insurance", "Tilt"]


def test_a_name_is_read_in_the_language_asked_then_in_english_then_as_the_file_says() -> None:
    policy = load_policy_text(NAMED)
    assert policy.name_in("fr") == "Programme d'essai"
    assert policy.name_in("zh") == "测试方案"
    assert policy.name_in("vi") == "Test programme"  # neither Vietnamese nor English: the file's name
    tilt = policy.layers[1]
    assert tilt.payer == "Tilt"  # what the payment rows carry is unchanged
    assert tilt.payer_in("ar") == "الدفعة التفضيلية"
    assert tilt.payer_in("fa") == "Tilt payment"  # no Persian: the English name
    assert policy.layers[0].names == ()


@pytest.mark.parametrize(
    ("replace", "by", "marker", "key", "message"),
    [
        ("ar = ", "de = ", "de = ", "layer[1].names.de", "unknown language 'de'"),
        ('en = "Tilt payment"', 'en = ""', 'en = ""', "layer[1].names.en", "must not be empty"),
        ('en = "Tilt payment"', "en = 3", "en = 3", "layer[1].names.en", "must be a string"),
        ("zh = ", "kh = ", "names = {", "policy.names.kh", "unknown language 'kh'"),
        ("names = { fr", 'names = "x"\nx = { fr', "names = ", "policy.names", "must be a table"),
    ],
)
def test_a_bad_name_is_refused_with_file_line_and_key(replace: str, by: str, marker: str, key: str, message: str):
    text = NAMED.replace(replace, by, 1)
    problem = next(problem for problem in problems_of(text, path="named.toml") if problem.key == key)
    assert message in problem.message
    assert (problem.file, problem.line) == ("named.toml", line_of(text, marker))


def test_the_policy_languages_are_the_applications() -> None:
    assert set(NAME_LANGUAGES) == set(LANGUAGES)


@pytest.mark.parametrize("path", POLICIES, ids=lambda path: path.stem)
def test_every_shipped_policy_names_its_programme_and_payers_in_every_language(path: Path) -> None:
    policy = load_policy(path)
    for names in [policy.names, *(layer.names for layer in policy.layers)]:
        assert {language for language, _name in names} == set(NAME_LANGUAGES)
        assert len({name for _language, name in names}) >= 5  # translated, not copied
    # The programme's own language comes first in its file.
    first = {
        "cn-yaan-2018": "zh",
        "ir-ihio-2023": "fa",
        "ma-ramed-2020": "ar",
        "vn-shi-2024": "vi",
        "vn-shi-2025": "vi",
        "kh-hef-2015": "en",
    }
    assert policy.names[0][0] == first[policy.id]
    assert all(layer.names[0][0] == first[policy.id] for layer in policy.layers)
