"""Languages of the web pages: gettext catalogues, text direction, numbers and dates per locale.

The interface speaks six languages. Each has a gettext catalogue kept as a ``.po`` file under
``translations/<lang>/LC_MESSAGES/messages.po`` (the committed source). The catalogues are
compiled in memory the first time a language is asked for, so a fresh ``pip install -e .`` (or a
wheel, which ships the ``.po`` files as package data) needs no build step and there is no ``.mo``
file to forget.

Numbers, money and dates are formatted by Babel with a *formatting locale* per interface language
(:data:`FORMAT_LOCALES`), using that locale's CLDR default numbering system:

- ``ar`` formats with ``ar_EG``: Eastern Arabic digits (٠١٢٣٤٥٦٧٨٩), as most of the Arabic-speaking
  Middle East writes them. Maghreb offices (Morocco's RAMED) write Latin digits: set
  ``EQUICOVER_FORMAT_LOCALES="ar=ar_MA"`` there.
- ``fa`` formats with ``fa_IR``: Extended Arabic-Indic (Persian) digits (۰۱۲۳۴۵۶۷۸۹).
- the others with their country of the shipped programme (``fr_FR``, ``zh_Hans_CN``, ``vi_VN``).

Babel formats dates with Latin digits whatever the numbering system, so dates are re-written
with the locale's own digits (:func:`localise_digits`). The calendar is always Gregorian (the
Persian solar calendar is not offered: Babel does not implement it).
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import os
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
DEFAULT_LANGUAGE = "en"
# In the order of the language picker; each shown in its own name.
LANGUAGES: tuple[str, ...] = ("en", "fr", "ar", "fa", "zh", "vi")
RIGHT_TO_LEFT = frozenset({"ar", "fa"})
FORMAT_LOCALES: dict[str, str] = {
    "en": "en",
    "fr": "fr_FR",
    "ar": "ar_EG",
    "fa": "fa_IR",
    "zh": "zh_Hans_CN",
    "vi": "vi_VN",
}
# ISO 15924 script of a stored name -> BCP 47 language tag that makes the browser pick a font of
# that script (and Chinese rather than Japanese glyphs for Han).
SCRIPT_LANG: dict[str, str] = {
    "Latn": "und-Latn",
    "Arab": "und-Arab",
    "Hans": "zh-Hans",
    "Hant": "zh-Hant",
    "Khmr": "km",
    "Cyrl": "und-Cyrl",
}


def _format_locale_overrides() -> dict[str, str]:
    """``EQUICOVER_FORMAT_LOCALES="ar=ar_MA,fr=fr_MA"`` replaces the formatting locale of a language."""
    overrides: dict[str, str] = {}
    for item in os.environ.get("EQUICOVER_FORMAT_LOCALES", "").split(","):
        language, _, locale = item.strip().partition("=")
        if language in LANGUAGES and locale:
            Locale.parse(locale)  # refuse an unknown locale at start-up, not on a page
            overrides[language] = locale
    return overrides


def normalise_language(value: str | None) -> str | None:
    """``"fr-CA"`` / ``"fr_FR"`` / ``"FR"`` -> ``"fr"`` if it is one of ours, else None."""
    if not value:
        return None
    base = value.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def language_from_accept(header: str | None) -> str | None:
    """The first of our languages in an Accept-Language header, by the client's weights."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        language = normalise_language(tag)
        if language and weight > 0:
            weighted.append((-weight, position, language))
    return min(weighted)[2] if weighted else None


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English is the source text: no catalogue)."""
    path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


# The digits of the CLDR numbering systems a formatting locale may default to. Babel gives each
# locale's default numbering system and its symbols (decimal and group signs) but writes the
# digits themselves in Latin, so the digits are substituted here.
NUMBERING_DIGITS: dict[str, str] = {
    "arab": "٠١٢٣٤٥٦٧٨٩",
    "arabext": "۰۱۲۳۴۵۶۷۸۹",
    "beng": "০১২৩৪৫৬৭৮৯",
    "deva": "०१२३४५६७८९",
    "khmr": "០១២៣៤៥៦៧៨៩",
    "laoo": "໐໑໒໓໔໕໖໗໘໙",
    "mymr": "၀၁၂၃၄၅၆၇၈၉",
    "thai": "๐๑๒๓๔๕๖๗๘๙",
}


@cache
def _digit_map(locale: str) -> dict[int, int]:
    digits = NUMBERING_DIGITS.get(Locale.parse(locale).default_numbering_system or "latn")
    return str.maketrans("0123456789", digits) if digits else {}


def localise_digits(text: str, locale: str) -> str:
    """Latin digits -> the locale's own (Eastern Arabic for ar_EG, Persian for fa_IR)."""
    return text.translate(_digit_map(locale))


@dataclass(frozen=True)
class Localiser:
    """Everything a page needs to speak one language: text, direction and formats."""

    language: str

    @property
    def locale(self) -> str:
        return _format_locale_overrides().get(self.language, FORMAT_LOCALES[self.language])

    @property
    def direction(self) -> str:
        return "rtl" if self.language in RIGHT_TO_LEFT else "ltr"

    def gettext(self, message: str, **values: object) -> str:
        text = translations(self.language).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        text = translations(self.language).ngettext(singular, plural, count)
        return text % {"num": self.number(count), **values}

    def number(self, value: int | Decimal | float | None) -> str:
        if value is None:
            return ""
        return localise_digits(
            babel_numbers.format_decimal(value, locale=self.locale, numbering_system="default"), self.locale
        )

    def money(self, minor: int | None, minor_digits: int, currency: str | None = None) -> str:
        """Integer minor units -> the locale's way of writing the amount (exact, no float)."""
        if minor is None:
            return ""
        amount = Decimal(minor).scaleb(-minor_digits)
        pattern = "#,##0" + ("." + "0" * minor_digits if minor_digits else "")
        text = babel_numbers.format_decimal(
            amount, format=pattern, locale=self.locale, numbering_system="default", decimal_quantization=True
        )
        text = localise_digits(text, self.locale)
        return f"{text} {currency}" if currency else text

    def percent(self, numerator: int, denominator: int, digits: int = 1) -> str:
        if not denominator:
            return "–"
        share = Decimal(numerator) / Decimal(denominator)
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return localise_digits(
            babel_numbers.format_percent(share, format=pattern, locale=self.locale, numbering_system="default"),
            self.locale,
        )

    def date(self, value: dt.date | None, form: str = "medium") -> str:
        if value is None:
            return ""
        return localise_digits(babel_dates.format_date(value, form, locale=self.locale), self.locale)

    def datetime(self, value: dt.datetime | None, form: str = "medium") -> str:
        if value is None:
            return ""
        return localise_digits(babel_dates.format_datetime(value, form, locale=self.locale), self.locale)

    def month(self, year: int, month: int) -> str:
        return localise_digits(
            babel_dates.format_date(dt.date(year, month, 1), "MMM y", locale=self.locale), self.locale
        )


def language_name(language: str) -> str:
    """A language in its own name and script: English, Français, العربية, فارسی, 中文, Tiếng Việt."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:] if language in {"fr", "vi"} else name


class AmountRefused(ValueError):
    """A typed amount the page cannot read; ``reason`` is a catalogue message, ``digits`` its value."""

    def __init__(self, reason: str, digits: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.digits = digits


NOT_AN_AMOUNT = "is not an amount"
TOO_MANY_DECIMALS = "has more than %(digits)s decimals for the currency"
NOT_POSITIVE = "must be more than zero"
NEGATIVE_AMOUNT = "must not be negative"
# Arabic-Indic and Persian digits typed in a form, read as the digits they are.
LOCAL_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SPACES = ("\u00a0", "\u202f", " ")


def parse_amount(text: str, locale: str, minor_digits: int) -> int:
    """An amount typed in the page's locale -> integer minor units, exactly, or :class:`AmountRefused`.

    Read with Babel's parser for ``locale`` ("12,000.50" in English, "12 000,50" in French,
    "١٢٬٠٠٠٫٥٠" in Arabic, Persian digits), then, if that fails, with the locale's Latin symbols
    (a clerk at a Latin keyboard). Misplaced group signs are refused (Babel's strict mode), as are
    exponents, signs other than a leading minus, and more decimals than the currency has: an
    amount is never rounded behind the clerk's back."""
    cleaned = text.strip().translate(LOCAL_DIGITS)
    if not cleaned or not any(char.isdigit() for char in cleaned) or any(char in cleaned for char in "eE+"):
        raise AmountRefused(NOT_AN_AMOUNT)
    value: Decimal | None = None
    for numbering in ("default", "latn"):
        group = babel_numbers.get_group_symbol(locale, numbering_system=numbering)
        candidate = cleaned
        if group in _SPACES:
            for space in _SPACES:
                candidate = candidate.replace(space, group)
        try:
            value = babel_numbers.parse_decimal(candidate, locale=locale, strict=True, numbering_system=numbering)
            break
        except babel_numbers.NumberFormatError:
            continue
    if value is None or not value.is_finite():
        raise AmountRefused(NOT_AN_AMOUNT)
    if value < 0:
        raise AmountRefused(NEGATIVE_AMOUNT)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if -exponent > minor_digits:
        raise AmountRefused(TOO_MANY_DECIMALS, minor_digits)
    return int(value.scaleb(minor_digits))
