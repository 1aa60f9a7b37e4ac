"""The window's receipt as a PDF (fpdf2: pure Python, no browser, no network).

Names and payers are printed in their own script: the PDF embeds a Unicode TrueType font found
on the machine (DejaVu Sans covers Latin, Vietnamese, Arabic and Persian; a CJK font such as
WenQuanYi Micro Hei or Noto Sans CJK sets any text holding Chinese), with HarfBuzz shaping
(``uharfbuzz``) so that Arabic letters join and right-to-left runs read in order. Set
``EQUICOVER_PDF_FONTS`` to a ``:``-separated list of .ttf/.ttc files to choose them. On a
machine without any of these fonts the receipt falls back to the PDF core font and replaces the
characters it cannot show with ``?``, rather than fail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from equicover.web.i18n import Localiser

BODY_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@lru_cache(maxsize=1)
def _fonts() -> list[Path]:
    configured = os.environ.get("EQUICOVER_PDF_FONTS")
    if configured:
        return [Path(item) for item in configured.split(":") if item and Path(item).is_file()]
    found = [Path(path) for path in BODY_FONT_CANDIDATES if Path(path).is_file()][:1]
    found += [Path(path) for path in CJK_FONT_CANDIDATES if Path(path).is_file()][:1]
    return found


def _has_han(text: str) -> bool:
    return any(
        "\u3000" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or "\uff00" <= char <= "\uffef" for char in text
    )


class _Receipt(FPDF):
    """Each piece of text is set in one font chosen for its script: the CJK font (which also has
    Latin letters and digits) when it holds Han characters, else the body font. fpdf2's own
    glyph fallback is not used: in fpdf2 2.8.9 the text printed after a fallback glyph vanishes."""

    def __init__(self) -> None:
        super().__init__(format=(148, 210))  # A5, in mm
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(auto=True, margin=12)
        fonts = _fonts()
        self.body_font: str | None = None
        self.han_font: str | None = None
        for index, path in enumerate(fonts):
            name = f"f{index}"
            self.add_font(name, fname=str(path))
            if index == 0:
                self.body_font = name
            else:
                self.han_font = name
        self.unicode = self.body_font is not None
        if self.unicode:
            self.set_font(self.body_font, size=10)
            with contextlib.suppress(Exception):  # uharfbuzz missing: Arabic letters print unjoined, still legible
                self.set_text_shaping(True)
        else:
            self.set_font("helvetica", size=10)

    def text_of(self, value: object, size: float) -> str:
        """Select the font for this text at this size; the text as the font can print it."""
        text = str(value)
        if not self.unicode:
            self.set_font("helvetica", size=size)
            return text.encode("latin-1", "replace").decode("latin-1")
        font = self.han_font if self.han_font is not None and _has_han(text) else self.body_font
        self.set_font(font, size=size)
        return text


def receipt_pdf(lang: Localiser, context: dict[str, Any], *, printed_at: dt.datetime) -> bytes:
    """The receipt of one settled claim, in the page's language."""
    _ = lang.gettext
    claim = context["claim"]
    digits = context["minor_digits"]
    currency = context["currency"]
    pdf = _Receipt()
    pdf.add_page()
    rtl = lang.direction == "rtl"
    align_start = "R" if rtl else "L"
    align_end = "L" if rtl else "R"
    width = pdf.epw

    def line(text: str, size: float = 10, align: str = align_start, height: float = 6) -> None:
        pdf.multi_cell(width, height, pdf.text_of(text, size), align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(label: str, value: str, bold: bool = False, label_share: float = 0.65) -> None:
        """A label and its value side by side, both wrapping (a programme's name in some languages
        is longer than its column); mirrored in right-to-left. Each is its own cell, so a code or
        an amount never mixes with right-to-left text."""
        size = 11 if bold else 10
        label_width, value_width = width * label_share, width * (1 - label_share)
        label_text = pdf.text_of(label, size)
        lines = pdf.multi_cell(label_width, 5, label_text, dry_run=True, output="LINES")
        assert isinstance(lines, list)  # output="LINES" gives the wrapped lines alone
        value_text = pdf.text_of(value, size)
        value_lines = pdf.multi_cell(value_width, 5, value_text, dry_run=True, output="LINES")
        assert isinstance(value_lines, list)
        height = 5 * max(1, len(lines), len(value_lines)) + 1
        if pdf.will_page_break(height):
            pdf.add_page()
        top = pdf.get_y()
        left = pdf.l_margin
        label_x, value_x = (left + value_width, left) if rtl else (left, left + label_width)
        pdf.set_xy(label_x, top)
        pdf.text_of(label, size)  # each text in its own font (the value's may be the Han one)
        pdf.multi_cell(label_width, 5, label_text, align=align_start, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.set_xy(value_x, top)
        pdf.text_of(value, size)
        pdf.multi_cell(value_width, 5, value_text, align=align_end, new_x=XPos.RIGHT, new_y=YPos.TOP)
        pdf.line(left, top + height, left + width, top + height)
        pdf.set_xy(left, top + height + 0.5)

    line(_("Receipt"), size=16, height=9)
    provider = context["provider"]
    district = context["district"]
    line(provider.name + (f" · {district.name}" if district else ""))
    pdf.ln(2)
    person = context["person"]
    row(_("Bill"), claim.claim_id, label_share=0.4)
    row(_("Patient"), person.full_name, label_share=0.4)
    row(_("Card number"), person.household_code, label_share=0.4)
    row(_("Date of care"), lang.date(claim.service_date), label_share=0.4)
    row(_("Care type"), context["care_type_label"](claim.care_type), label_share=0.4)
    if context.get("policy") is not None:
        row(_("Policy"), context["policy_name"], label_share=0.4)  # as on the printed HTML receipt
    pdf.ln(4)
    line(f"{_('Who pays what')} ({currency})", size=11)
    row(_("Total billed"), lang.money(claim.total, digits))
    if claim.provider_writeoff:
        row(_("Written off by the facility (fixed fee)"), lang.money(claim.provider_writeoff, digits))
    for step in context["steps"]:
        row(step.payer, lang.money(step.amount, digits))
    row(
        f"{_('Patient pays')} ({lang.percent(claim.member_oop, claim.total)})",
        lang.money(claim.member_oop, digits),
        bold=True,
    )
    pdf.ln(3)
    line(_("Rule trail"), size=8)
    line(claim.trail or "-", size=8, align="L", height=4)
    pdf.ln(2)
    line(_("Printed %(when)s", when=lang.datetime(printed_at)), size=8)
    return bytes(pdf.output())
