"""Keeping the translation catalogues in step with the pages.

``python -m equicover.web.catalogues`` extracts every translatable text of the web pages (the
``_()`` / ``gettext`` / ``ngettext`` calls of the templates and the ``N_()`` / ``_()`` of the
Python modules) and merges it into each ``translations/<lang>/LC_MESSAGES/messages.po``: new texts
are added untranslated, gone ones are dropped, translations are kept. The test
``tests/web/test_i18n.py`` fails while any text lacks a translation in any language.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from equicover.web.i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS_DIR

WEB_DIR = Path(__file__).resolve().parent
METHOD_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS_MAP = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extract() -> Catalog:
    """Every translatable text of the web pages, as a template catalogue (no translations)."""
    catalog = Catalog(project="equicover", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        WEB_DIR, METHOD_MAP, OPTIONS_MAP, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"


def update() -> dict[str, int]:
    """Merge the extracted texts into every language's .po; returns untranslated counts."""
    template = extract()
    missing: dict[str, int] = {}
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        path = po_path(language)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(locale=language, project="equicover", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True, include_lineno=False)
        missing[language] = sum(1 for message in catalog if message.id and not message.string)
    return missing


if __name__ == "__main__":  # pragma: no cover
    for language, count in update().items():
        print(f"{language}: {count} untranslated")  # noqa: T201 - the command's output is this report on stdout
