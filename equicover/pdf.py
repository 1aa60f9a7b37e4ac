"""A small PDF writer over fpdf2 (pinned 2.8.9): headings, paragraphs and simple tables.

Fonts: fpdf2's core fonts are Latin-1 only. For other scripts a Unicode TrueType font must be
embedded: the first of ``UNICODE_FONTS`` found is used (DejaVu Sans covers Latin, Vietnamese,
Cyrillic and unshaped Arabic; Chinese needs a CJK .ttf/.otf such as Noto Sans SC given with ``EQUICOVER_PDF_FONT``;
Arabic and Persian shaping needs fpdf2's text shaping with ``uharfbuzz``, not installed). Set
``EQUICOVER_PDF_FONT`` to a .ttf/.otf path to choose one. Without any, text that Latin-1 cannot
hold is written with ``?`` (the reports name records by code, so this is rarely visible).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import segno
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


# -- Documents in every script, shaped (member cards, referral letters) ------------------------

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
SCRIPT_FONTS_ENV = "EQUICOVER_PDF_FONTS"  # ":"-separated: a body font, then a CJK font


def script_fonts() -> tuple[str | None, str | None]:
    """The body font (Latin, Vietnamese, Arabic, Persian) and the CJK font found on the machine."""
    configured = os.environ.get(SCRIPT_FONTS_ENV)
    if configured:
        found = [item for item in configured.split(":") if item and Path(item).is_file()]
        return (found[0] if found else None), (found[1] if len(found) > 1 else None)
    body = next((path for path in UNICODE_FONTS if Path(path).is_file()), None)
    han = next((path for path in CJK_FONTS if Path(path).is_file()), None)
    return body, han


def has_han(text: str) -> bool:
    return any("\u3000" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" for char in text)


def is_rtl(text: str) -> bool:
    return any("\u0590" <= char <= "\u08ff" or "\ufb1d" <= char <= "\ufeff" for char in text)


class ShapedPdf(FPDF):
    """An A4 document that sets each piece of text in the font of its script, shaped by HarfBuzz
    (``uharfbuzz``: Arabic letters joined, right-to-left runs in order). fpdf2's own glyph
    fallback is not used (text after a fallback glyph vanishes in 2.8.9). Without any Unicode
    font, text is written in the core font with ``?`` for what Latin-1 cannot hold."""

    def __init__(self, *, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_auto_page_break(auto=False)
        self.set_title(title)
        body, han = script_fonts()
        self.body_font = self.han_font = "helvetica"
        self.unicode = body is not None
        if body is not None:
            self.add_font("body", fname=body)
            self.body_font = self.han_font = "body"
            with contextlib.suppress(Exception):  # without uharfbuzz Arabic prints unjoined, still legible
                self.set_text_shaping(True)
        if han is not None:
            self.add_font("han", fname=han)
            self.han_font = "han"

    def qr_code(self, x: float, y: float, size: float, text: str) -> None:
        """``text``'s QR code (``segno``, level M), one filled rectangle per run of dark modules in
        a row, all in one path written as PDF operators at once (``FPDF.rect`` per run costs 30
        times more, and a province prints tens of thousands of cards). No quiet zone: leave 4
        modules of blank around it."""
        matrix = segno.make_qr(text, error="m").matrix
        module = size / len(matrix)
        scale, top = self.k, self.h
        runs = []
        for row_index, row in enumerate(matrix):
            column, width = 0, len(row)
            while column < width:
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < width and row[column]:
                    column += 1
                runs.append(
                    f"{(x + start * module) * scale:.3f} {(top - y - row_index * module) * scale:.3f} "
                    f"{(column - start) * module * scale:.3f} {-module * scale:.3f} re"
                )
        self.set_fill_color(0, 0, 0)
        self._out("\n".join(runs) + "\nf")  # fpdf2 2.8.9's page-content writer (pinned)

    def write_at(self, x: float, y: float, width: float, text: str, size: float, align: str = "L") -> None:
        """One line of text in ``width`` mm, shrunk until it fits, in the font of its script."""
        if not self.unicode:
            text = text.encode("latin-1", "replace").decode("latin-1")
        self.set_font(self.han_font if has_han(text) else self.body_font, size=size)
        while size > 5 and self.get_string_width(text) > width:
            size -= 0.5
            self.set_font_size(size)
        self.set_xy(x, y)
        self.cell(width, size * 0.45, text, align=align)
