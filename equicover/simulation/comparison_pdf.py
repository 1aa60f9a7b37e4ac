"""The "what if" comparison as a PDF: a title, a few lines, then one table per section.

The caller hands every text already in the reader's language and units (the web page's
labels, money in the currency's units, digits of the locale); this module only lays them out. Each
piece of text is set in the font of its script and shaped (:class:`equicover.pdf.ShapedPdf`:
Arabic and Persian joined, Chinese in a CJK font). In a right-to-left language the columns are
mirrored: the label column stands on the right, the policies read from right to left.
"""

from __future__ import annotations

from dataclasses import dataclass

from equicover.pdf import ShapedPdf

PAGE_WIDTH = 210.0
PAGE_HEIGHT = 297.0
MARGIN = 14.0
ROW = 6.5
LABEL_SHARE = 0.40  # of the table's width, for the row labels


@dataclass(frozen=True, slots=True)
class PdfSection:
    title: str
    header: list[str]  # the label column's heading first, then one per value column
    rows: list[list[str]]  # each: the row's label, then its values


def comparison_pdf(*, title: str, lines: list[str], sections: list[PdfSection], rtl: bool) -> bytes:
    pdf = ShapedPdf(title=title)
    pdf.add_page()
    pdf.set_draw_color(170, 170, 170)
    width = PAGE_WIDTH - 2 * MARGIN
    align = "R" if rtl else "L"
    y = MARGIN
    pdf.write_at(MARGIN, y, width, title, 16, align)
    y += 10
    for line in lines:
        pdf.write_at(MARGIN, y, width, line, 9, align)
        y += 5.5
    for section in sections:
        if y + 3 * ROW + 10 > PAGE_HEIGHT - MARGIN:
            pdf.add_page()
            y = MARGIN
        y += 4
        pdf.write_at(MARGIN, y, width, section.title, 12, align)
        y += 8
        for index, cells in enumerate([section.header, *section.rows]):
            if y + ROW > PAGE_HEIGHT - MARGIN:
                pdf.add_page()
                y = MARGIN
            _row(pdf, y, width, cells, rtl=rtl, heading=index == 0)
            y += ROW
    return bytes(pdf.output())


def _row(pdf: ShapedPdf, y: float, width: float, cells: list[str], *, rtl: bool, heading: bool) -> None:
    label_width = width * LABEL_SHARE
    value_width = (width - label_width) / max(1, len(cells) - 1)
    widths = [label_width] + [value_width] * (len(cells) - 1)
    if rtl:  # the label on the right, the first policy next to it
        cells, widths = cells[::-1], widths[::-1]
    x = MARGIN
    label_at = len(cells) - 1 if rtl else 0
    for index, (text, cell_width) in enumerate(zip(cells, widths, strict=True)):
        if heading:
            pdf.set_fill_color(235, 240, 246)
            pdf.rect(x, y, cell_width, ROW, style="DF")
        else:
            pdf.rect(x, y, cell_width, ROW, style="D")
        is_label = index == label_at
        cell_align = ("R" if rtl else "L") if is_label else ("L" if rtl else "R")
        pdf.write_at(x + 1.2, y + 1.6, cell_width - 2.4, text, 8.5 if not heading else 8, cell_align)
        x += cell_width
