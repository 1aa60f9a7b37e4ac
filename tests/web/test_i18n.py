"""The catalogues and the locale formats of the web pages (no database, no browser)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from equicover.web.catalogues import extract, po_path
from equicover.web.i18n import LANGUAGES, RIGHT_TO_LEFT, Localiser, language_from_accept, normalise_language
from equicover.web.pages import safe_next

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
TRANSLATED = [language for language in LANGUAGES if language != "en"]


def _catalogue(language: str):
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_text_of_the_pages_is_translated(language: str) -> None:
    catalogue = _catalogue(language)
    wanted = {message.id for message in extract() if message.id}
    have = {message.id: message for message in catalogue if message.id}
    missing = sorted(
        str(key)
        for key in wanted
        if key not in have or not all(have[key].string if isinstance(have[key].string, tuple) else [have[key].string])
    )
    assert missing == [], f"{language}: run `python -m equicover.web.catalogues` and translate: {missing[:10]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: str) -> None:
    for message in _catalogue(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            found = set(PLACEHOLDER.findall(string))
            # A plural form may spell the number out ("one day", "يومان") and drop %(num)s.
            assert found <= wanted and (wanted - found) <= {"num"}, f"{language}: {ids[0]!r} -> {string!r}"


def test_arabic_and_persian_are_right_to_left_and_the_others_not() -> None:
    assert RIGHT_TO_LEFT == {"ar", "fa"}
    assert {language: Localiser(language).direction for language in LANGUAGES} == {
        "en": "ltr",
        "fr": "ltr",
        "ar": "rtl",
        "fa": "rtl",
        "zh": "ltr",
        "vi": "ltr",
    }


def test_numbers_use_the_digits_of_the_locale() -> None:
    assert Localiser("ar").money(123456789, 2) == "١٬٢٣٤٬٥٦٧٫٨٩"  # ar_EG: Eastern Arabic digits
    assert Localiser("fa").money(123456789, 2) == "۱٬۲۳۴٬۵۶۷٫۸۹"  # fa_IR: Persian digits
    assert Localiser("fr").money(123456789, 2) == "1\u202f234\u202f567,89"
    assert Localiser("en").money(150000, 0, "VND") == "150,000 VND"
    assert Localiser("vi").number(1234567) == "1.234.567"
    assert Localiser("ar").percent(1, 8) == "١٢٫٥%"


def test_money_is_exact_for_large_amounts() -> None:
    assert Localiser("en").money(10**15 + 1, 2) == "10,000,000,000,000.01"
    assert Localiser("en").money(-5, 2) == "-0.05"


def test_dates_follow_the_locale_and_its_digits() -> None:
    day = dt.date(2018, 6, 30)
    assert Localiser("en").date(day) == "Jun 30, 2018"
    assert Localiser("fr").date(day) == "30 juin 2018"
    assert Localiser("zh").date(day) == "2018年6月30日"
    assert "۲۰۱۸" in Localiser("fa").date(day)
    assert "٢٠١٨" in Localiser("ar").date(day)


def test_the_maghreb_can_choose_latin_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EQUICOVER_FORMAT_LOCALES", "ar=ar_MA")
    assert Localiser("ar").number(1234) == "1.234"


def test_plural_forms_follow_each_language() -> None:
    assert Localiser("fr").ngettext("%(num)s day", "%(num)s days", 1) == "1 jour"
    assert Localiser("fr").ngettext("%(num)s day", "%(num)s days", 3) == "3 jours"
    assert Localiser("ar").ngettext("%(num)s day", "%(num)s days", 2) == "يومان"
    assert Localiser("ar").ngettext("%(num)s day", "%(num)s days", 15) == "١٥ يوماً"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fa-IR,fa;q=0.9,en;q=0.8", "fa"),
        ("de-DE,de;q=0.9", None),
        ("de;q=0.9, zh-CN;q=0.8", "zh"),
        ("en;q=0.1, vi", "vi"),
        ("", None),
    ],
)
def test_browser_language(header: str, expected: str | None) -> None:
    assert language_from_accept(header) == expected


def test_language_tags_are_normalised() -> None:
    assert normalise_language("fr_FR") == "fr"
    assert normalise_language("AR-eg") == "ar"
    assert normalise_language("de") is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/window?q=1", "/window?q=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_only_local_redirects(target: str, expected: str) -> None:
    assert safe_next(target, "/") == expected


EASTERN_TO_LATIN = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    digits=st.integers(min_value=0, max_value=3),
    language=st.sampled_from(LANGUAGES),
)
def test_money_text_reads_back_to_the_same_amount_in_every_language(minor: int, digits: int, language: str) -> None:
    text = Localiser(language).money(minor, digits)
    decimal_sign = {"en": ".", "zh": ".", "fr": ",", "vi": ",", "ar": "٫", "fa": "٫"}[language]
    latin = text.translate(EASTERN_TO_LATIN).replace("\u200e", "").replace("\u200f", "").replace("\u061c", "")
    whole, _, fraction = latin.partition(decimal_sign)
    sign = -1 if whole.strip().startswith(("-", "\u2212")) else 1
    whole_digits = "".join(char for char in whole if char.isdigit())
    assert len(fraction) == digits
    assert sign * (int(whole_digits) * 10**digits + int(fraction or "0")) == minor
