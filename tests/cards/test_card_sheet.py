"""Card sheets: ten ID-1 cards per A4 page, names in their own script, the QR of the signed payload."""

from __future__ import annotations

import datetime as dt

import pypdfium2 as pdfium
import segno

from equicover.cards.numbers import grouped, with_check_digits
from equicover.cards.service import PrintedCard
from equicover.cards.sheet import (
    CARD_HEIGHT,
    CARD_WIDTH,
    COLUMNS,
    GAP_X,
    GAP_Y,
    LEFT,
    QR_SIZE,
    ROWS,
    TOP,
    _Sheet,
    card_sheet_pdf,
)

A4_WIDTH, A4_HEIGHT = 210.0, 297.0
NAMES = ["Nguyễn Thị Hoa", "فاطمة الزهراء", "محمد رضا حسینی", "Sokha Chan"]


def _card(index: int, name: str) -> PrintedCard:
    return PrintedCard(
        number=with_check_digits(str(4_000_000_000 + index)),
        holder_name=name,
        household_code=f"H-{index}",
        scheme_code="VN-SHI",
        scheme_name="Social health insurance",
        category="registered_poor",
        valid_from=dt.date(2024, 7, 1),
        valid_to=dt.date(2025, 6, 30),
        payload=f"EQC1|payload-{index}",
    )


def test_ten_cards_fit_an_a4_page_at_their_real_size() -> None:
    right = LEFT + COLUMNS * CARD_WIDTH + (COLUMNS - 1) * GAP_X
    bottom = TOP + ROWS * CARD_HEIGHT + (ROWS - 1) * GAP_Y
    assert COLUMNS * ROWS == 10
    assert right <= A4_WIDTH - 5 and bottom <= A4_HEIGHT - 5


def test_eleven_cards_take_two_pages_and_show_their_holders_and_numbers() -> None:
    cards = [_card(index, NAMES[index % len(NAMES)]) for index in range(11)]
    document = pdfium.PdfDocument(card_sheet_pdf(cards))
    try:
        assert len(document) == 2
        width, height = document[0].get_size()
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)
        first = document[0].get_textpage().get_text_range()
        second = document[1].get_textpage().get_text_range()
    finally:
        document.close()
    assert "Nguyễn Thị Hoa" in first and "Sokha Chan" in first
    assert grouped(cards[0].number) in first
    assert grouped(cards[10].number) in second and grouped(cards[10].number) not in first


def test_arabic_names_are_set_with_harfbuzz_shaping_and_read_back() -> None:
    """The sheet shapes text with HarfBuzz (joined Arabic letters, right-to-left runs), and the
    PDF's text layer still gives the name back."""
    assert _Sheet().text_shaping is not None and _Sheet().text_shaping["use_shaping_engine"]
    document = pdfium.PdfDocument(card_sheet_pdf([_card(1, "فاطمة الزهراء")]))
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()
    assert "فاطمة" in text or "ةمطاف" in text  # logical or visual order, as the text layer gives it


def test_the_qr_code_drawn_is_that_of_the_payload() -> None:
    """Rendered, the page shows exactly the payload's QR modules where the first card's code is."""
    card = _card(1, "Sokha Chan")
    matrix = segno.make_qr(card.payload, error="m").matrix
    scale = 6  # 432 dpi: a module is about 11 pixels
    document = pdfium.PdfDocument(card_sheet_pdf([card]))
    try:
        pixels = document[0].render(scale=scale).to_numpy()
    finally:
        document.close()
    module = QR_SIZE / len(matrix)
    left, top = LEFT + CARD_WIDTH - QR_SIZE - 3, TOP + 12

    def dark(row: int, column: int) -> bool:
        x = round((left + (column + 0.5) * module) / 25.4 * 72 * scale)
        y = round((top + (row + 0.5) * module) / 25.4 * 72 * scale)
        return int(pixels[y, x, :3].mean()) < 128

    drawn = [[dark(row, column) for column in range(len(matrix))] for row in range(len(matrix))]
    assert drawn == [[bool(value) for value in row] for row in matrix]
