"""The import's memoised name forms are exactly what name_forms gives, for any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from equicover.registry import import_names
from equicover.registry.import_names import ImportNameForms
from equicover.registry.normalise import name_forms

NAMES = [
    "Nguyễn Văn An",
    "NGUYEN VAN AN",
    "An Nguyễn Văn",
    "張偉",
    "Zhang 伟",
    "مُحَمَّد علی",
    "محمد العلوي",
    "O'Brien-Smith",
    "Jean-Baptiste  Lefèvre",
    "Đặng Thị Ánh",
    "ＡＢＣ Ⅻ",
    "Ali ٠١٢ ۳۴",
    "- _ . ,",
    "a_b c",
    "",
    "   ",
    "Œuvre Æsir Łukasz Øster",
]


def expected(name: str) -> tuple[str, str, str]:
    forms = name_forms(name)
    return forms.folded, forms.romanised, forms.key


def test_memoised_forms_are_name_forms() -> None:
    memo = ImportNameForms()
    for name in NAMES:
        assert memo(name) == expected(name), name
    for name in NAMES:  # from the memo this time
        assert memo(name) == expected(name), name


def test_a_full_memo_starts_over_and_stays_right(monkeypatch) -> None:
    monkeypatch.setattr(import_names, "MAX_NAMES", 2)
    monkeypatch.setattr(import_names, "MAX_TOKENS", 3)
    memo = ImportNameForms()
    for name in NAMES * 2:
        assert memo(name) == expected(name), name


_MEMO = ImportNameForms()  # shared across examples, so that tokens met before come from the memo


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=30)
    | st.lists(st.sampled_from(["Nguyễn", "張", "偉", "علی", "O'Brien", "-", "Ⅻ", " "]), max_size=5).map(" ".join)
)
def test_any_text_gets_the_forms_name_forms_gives(name: str) -> None:
    assert _MEMO(name) == expected(name)
    assert ImportNameForms()(name) == expected(name)
