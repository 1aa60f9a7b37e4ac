"""A small PDF writer over fpdf2 (pinned 2.8.9): headings, paragraphs and simple tables.

Fonts: fpdf2's core fonts are Latin-1 only. For other scripts a Unicode TrueType font must be
embedded: the first of ``UNICODE_FONTS`` found is used (DejaVu Sans covers Latin, Vietnamese,
Cyrillic and unshaped Arabic; Chinese needs a CJK .ttf/.otf such as Noto Sans SC given with ``EQUICOVER_PDF_FONT``;
Arabic and Persian shaping needs fpdf2's text shaping with ``uharfbuzz``, not installed). Set
``EQUICOVER_PDF_FONT`` to a .ttf/.otf path to choose one. Without any, text that Latin-1 cannot
hold is written with ``?`` (the reports name records by code, so this is rarely visible).
"""

from __future__ import annotations

import os
from pathlib import Path

from fpdf import FPDF

UNICODE_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def _font_path() -> str | None:
    chosen = os.environ.get("EQUICOVER_PDF_FONT")
    if chosen and Path(chosen).is_file():
        return chosen
    for path in UNICODE_FONTS:
        if Path(path).is_file():
            return path
    return None


class PdfDocument:
    def __init__(self, *, title: str, landscape: bool = False) -> None:
        self.pdf = FPDF(orientation="L" if landscape else "P", unit="mm", format="A4")
        self.pdf.set_title(title)
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_page()
        font = _font_path()
        self.unicode = font is not None
        if font is not None:
            self.pdf.add_font("body", "", font)
            self.family = "body"
        else:
            self.family = "Helvetica"
        self.pdf.set_font(self.family, size=10)

    def _clean(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font(self.family, size=13)
        self.pdf.multi_cell(0, 7, self._clean(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(self.family, size=10)

    def text(self, text: str) -> None:
        self.pdf.multi_cell(0, 5, self._clean(text), new_x="LMARGIN", new_y="NEXT")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        if not header:
            return
        width = (self.pdf.w - self.pdf.l_margin - self.pdf.r_margin) / len(header)
        self.pdf.set_font(self.family, size=8)
        for cells, is_header in [(header, True)] + [(row, False) for row in rows]:
            if self.pdf.get_y() > self.pdf.h - 20:
                self.pdf.add_page()
            for index, cell in enumerate(cells):
                align = "L" if index == 0 or is_header else "R"
                text = self._clean(str(cell))
                # Cells do not wrap: shorten what would spill into the next cell.
                while text and self.pdf.get_string_width(text) > width - 1:
                    text = text[:-1]
                self.pdf.cell(width, 5, text, border=1, align=align)
            self.pdf.ln(5)
        self.pdf.set_font(self.family, size=10)
        self.pdf.ln(2)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
