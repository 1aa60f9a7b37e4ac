"""Time member cards: signing and verifying QR payloads, and writing card sheets.

    .venv/bin/python bench/cards_bench.py                  # 2,000 cards
    .venv/bin/python bench/cards_bench.py --cards 10000

Steps, no database (the payloads and faces are made here): sign N payloads with a scheme key
(in a temporary key directory), verify them, then write the card sheet of the N cards (ten per
A4 page: QR codes drawn as vectors, names in four scripts). Prints cards per second of each step
and the sheet's size per page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time

from equicover.cards import keys, payload
from equicover.cards.numbers import new_card_number
from equicover.cards.service import PrintedCard
from equicover.cards.sheet import card_sheet_pdf

NAMES = ("Nguyễn Thị Hoa", "فاطمة الزهراء بنعلي", "محمد رضا حسینی", "王小明", "Sokha Chan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=2000)
    count = parser.parse_args().cards
    with tempfile.TemporaryDirectory() as directory:
        os.environ[keys.KEYS_ENV] = directory
        key = keys.scheme_key("VN-SHI")
        faces = [
            payload.CardFace(
                key.key_id, new_card_number(), f"P{i + 1}", "VN-SHI", "registered_poor",
                dt.date(2024, 7, 1), dt.date(2025, 6, 30),
            )
            for i in range(count)
        ]  # fmt: skip
        started = time.perf_counter()
        signed = [payload.sign(face, key.private_key) for face in faces]
        signing = time.perf_counter() - started

        started = time.perf_counter()
        checks = [
            payload.verify(text, on=dt.date(2024, 9, 1), public_key_of=lambda scheme, key_id: key.public_key)
            for text in signed
        ]
        verifying = time.perf_counter() - started
        assert all(check.verdict == "valid" for check in checks)

        printed = [
            PrintedCard(face.number, NAMES[i % len(NAMES)], f"H-{i}", "VN-SHI", "Social health insurance",
                        face.category, face.valid_from, face.valid_to, text)
            for i, (face, text) in enumerate(zip(faces, signed))
        ]  # fmt: skip
        started = time.perf_counter()
        sheet = card_sheet_pdf(printed)
        writing = time.perf_counter() - started

    pages = -(-count // 10)
    print(f"cards: {count:,}; payload length {len(signed[0])} characters")
    print(f"sign:   {count / signing:,.0f} cards/s")
    print(f"verify: {count / verifying:,.0f} cards/s")
    print(f"sheet:  {count / writing:,.0f} cards/s ({pages:,} pages, {len(sheet) / pages / 1024:,.1f} KiB a page)")


if __name__ == "__main__":
    main()
