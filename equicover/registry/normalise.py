"""Name forms for matching: the name as written stays for display, these are for comparison.

Three forms of a name are derived, all lower-case with single spaces between tokens:

- ``folded``: the name in its own script with the differences that do not distinguish people
  removed: Unicode NFKC, case folding, diacritics (Vietnamese tones, French accents, Arabic
  harakat), Arabic tatweel, the Persian/Arabic letter variants (ی ى -> ي, ک -> ك, hamza carriers
  -> their bare letter, ة -> ه), Eastern Arabic and Persian digits -> ASCII, traditional Chinese
  -> simplified (OpenCC), punctuation -> space. Arabic stays Arabic, Chinese stays Han.
- ``romanised``: the folded name in ASCII: Han characters as toneless pinyin (pypinyin), every
  other script through ``anyascii``; punctuation dropped. It lets a name written in two scripts
  (or typed without diacritics on a phone) be compared.
- ``key``: the romanised tokens sorted, so "Nguyen Van An" and "An Nguyen Van" (family name
  first or last) compare equal.

Well-kept libraries do the script work (OpenCC, pypinyin, anyascii); the only hand table is the
Arabic-script letter unification, which no library does for matching purposes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from anyascii import anyascii

if TYPE_CHECKING:
    import opencc

# Arabic tatweel, harakat (U+064B-U+065F), superscript alef, Quranic marks.
_ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
_ARABIC_LETTERS = str.maketrans(
    {
        "\u06cc": "\u064a",  # ی Farsi yeh -> ي
        "\u0649": "\u064a",  # ى alef maksura -> ي
        "\u06a9": "\u0643",  # ک keheh -> ك
        "\u0623": "\u0627",  # أ -> ا
        "\u0625": "\u0627",  # إ -> ا
        "\u0622": "\u0627",  # آ -> ا
        "\u0671": "\u0627",  # ٱ alef wasla -> ا
        "\u0624": "\u0648",  # ؤ -> و
        "\u0626": "\u064a",  # ئ -> ي
        "\u0629": "\u0647",  # ة teh marbuta -> ه
        "\u06c0": "\u0647",  # ۀ -> ه
        "\u06d5": "\u0647",  # ە -> ه
        "\u0621": "",  # bare hamza carries no distinction between spellings of one name
    }
)
# Eastern Arabic (U+0660..) and Persian (U+06F0..) digits to ASCII.
_DIGITS = str.maketrans(
    {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}
)
# Latin letters that do not decompose under NFD but are "a letter with a mark" for matching.
_LATIN_SPECIALS = str.maketrans(
    {"đ": "d", "ð": "d", "ł": "l", "ø": "o", "ħ": "h", "ı": "i", "æ": "ae", "œ": "oe", "þ": "th"}
)
_APOSTROPHES = re.compile("['\u2019\u02bc`]")
_NOT_WORD = re.compile(r"[^\w]+|_+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


@dataclass(frozen=True)
class NameForms:
    folded: str
    romanised: str
    key: str


@lru_cache(maxsize=1)
def _traditional_to_simplified() -> opencc.OpenCC:
    import opencc

    return opencc.OpenCC("t2s")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", kept)


@lru_cache(maxsize=200_000)
def fold_token(token: str) -> str:
    """Fold one whitespace-free piece of a name (cached: names repeat a lot in a registry)."""
    text = unicodedata.normalize("NFKC", token).casefold()
    text = text.translate(_DIGITS)
    text = _ARABIC_MARKS.sub("", text)
    text = text.translate(_ARABIC_LETTERS)
    if _HAN.search(text):
        text = _traditional_to_simplified().convert(text)
    text = _strip_marks(text).translate(_LATIN_SPECIALS)
    text = _APOSTROPHES.sub("", text)  # "O'Brien" and "OBrien" are one spelling
    return " ".join(_NOT_WORD.sub(" ", text).split())


@lru_cache(maxsize=200_000)
def romanise_token(folded_token: str) -> str:
    """ASCII form of one folded token: pinyin syllables for Han, anyascii for the rest."""
    if _HAN.search(folded_token):
        from pypinyin import lazy_pinyin

        # One syllable per character, as a separate token: "张伟" -> "zhang wei".
        text = " ".join(lazy_pinyin(folded_token))
    else:
        text = folded_token
    text = anyascii(text).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def fold(name: str | None) -> str:
    if not name:
        return ""
    return " ".join(part for part in (fold_token(token) for token in name.split()) if part)


def romanise(name: str | None) -> str:
    folded = fold(name)
    return " ".join(part for part in (romanise_token(token) for token in folded.split()) if part)


def name_forms(name: str | None) -> NameForms:
    return _name_forms(name or "")


@lru_cache(maxsize=262_144)
def _name_forms(name: str) -> NameForms:
    # Whole names repeat too (common given and family names together): cached as well.
    folded = fold(name)
    romanised = " ".join(part for part in (romanise_token(token) for token in folded.split()) if part)
    return NameForms(folded=folded, romanised=romanised, key=" ".join(sorted(romanised.split())))


def ascii_digits(text: str) -> str:
    """Eastern Arabic / Persian / full-width digits to ASCII (for IDs and phone numbers)."""
    return unicodedata.normalize("NFKC", text).translate(_DIGITS)


__all__ = ["NameForms", "ascii_digits", "fold", "fold_token", "name_forms", "romanise", "romanise_token"]
