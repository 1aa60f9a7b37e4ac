"""Card sheets: member cards laid out for printing, ten ID-1 cards (85.6 x 54 mm) per A4 page.

Each card carries the scheme, the holder's name in its own script (Arabic and Persian shaped and
set right to left with HarfBuzz, ``uharfbuzz``; Chinese in a CJK font when the machine has one),
the household code, the category, the validity, the number in groups of four and the signed QR
payload, drawn as vector squares (``segno``), so that it prints sharp at any resolution. Thin
rounded borders are the cutting lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from equicover.cards.numbers import grouped
from equicover.cards.service import PrintedCard
from equicover.pdf import ShapedPdf, is_rtl

CARD_WIDTH, CARD_HEIGHT = 85.6, 53.98  # ISO/IEC 7810 ID-1, mm
COLUMNS, ROWS = 2, 5
LEFT, TOP, GAP_X, GAP_Y = 15.0, 10.0, 8.8, 1.5
QR_SIZE = 30.0


class _Sheet(ShapedPdf):
    def __init__(self) -> None:
        super().__init__(title="Member cards")

    def card(self, x: float, y: float, card: PrintedCard) -> None:
        self.set_draw_color(150, 150, 150)
        self.set_line_width(0.2)
        self.rect(x, y, CARD_WIDTH, CARD_HEIGHT, style="D", round_corners=True, corner_radius=3.18)
        self.set_fill_color(20, 90, 120)
        self.rect(x, y, CARD_WIDTH, 9, style="F", round_corners=True, corner_radius=3.18)
        self.set_text_color(255, 255, 255)
        self.write_at(x + 3, y + 1.4, CARD_WIDTH - 6, card.scheme_name, 8.5)
        self.write_at(x + 3, y + 5.2, CARD_WIDTH - 6, card.scheme_code, 6)
        self.set_text_color(0, 0, 0)
        text_width = CARD_WIDTH - QR_SIZE - 9  # 3 mm of blank, the QR code's quiet zone, beside it
        self.write_at(x + 3, y + 12, text_width, card.holder_name, 11, "R" if is_rtl(card.holder_name) else "L")
        self.write_at(x + 3, y + 19, text_width, f"Household {card.household_code}", 7)
        self.write_at(x + 3, y + 23, text_width, (card.category or "").replace("_", " "), 7)
        validity = f"Valid {card.valid_from.isoformat()} to {card.valid_to.isoformat()}"
        self.write_at(x + 3, y + 27, text_width, validity, 6.5)
        self.write_at(x + 3, y + 40, text_width, "Card number", 6)
        self.write_at(x + 3, y + 44, text_width, grouped(card.number), 12)
        self.qr_code(x + CARD_WIDTH - QR_SIZE - 3, y + 12, QR_SIZE, card.payload)
        self.write_at(x + CARD_WIDTH - QR_SIZE - 3, y + 12 + QR_SIZE + 1, QR_SIZE, "signed: Ed25519", 5, "C")


def card_sheet_pdf(cards: Sequence[PrintedCard]) -> bytes:
    """The cards, ten to an A4 page, in the order given (an empty sheet for none)."""
    sheet = _Sheet()
    per_page = COLUMNS * ROWS
    sheet.add_page()
    for index, card in enumerate(cards):
        if index and index % per_page == 0:
            sheet.add_page()
        slot = index % per_page
        column, row = slot % COLUMNS, slot // COLUMNS
        sheet.card(LEFT + column * (CARD_WIDTH + GAP_X), TOP + row * (CARD_HEIGHT + GAP_Y), card)
    return bytes(sheet.output())
