"""Card numbers: ten digits of serial and two check digits, ISO 7064 MOD 97-10 (as IBAN).

The check digits ``c`` of a serial ``s`` are ``98 - (s * 100 mod 97)``, written as two digits; a
whole number ``n`` (serial then check digits) is well formed when ``n mod 97 == 1``. This catches
every single wrong digit and every swap of two adjacent digits, which is what a clerk typing a
number at the window gets wrong. Numbers are printed in groups of four (``1234 5678 9012``);
spaces and hyphens typed with them are ignored.
"""

from __future__ import annotations

import re
import secrets

SERIAL_DIGITS = 10
NUMBER_DIGITS = SERIAL_DIGITS + 2
_SEPARATORS = re.compile(r"[\s-]+")


def check_digits(serial: str) -> str:
    """The two ISO 7064 MOD 97-10 check digits of a string of decimal digits."""
    return f"{98 - (int(serial) * 100) % 97:02d}"


def with_check_digits(serial: str) -> str:
    return serial + check_digits(serial)


def new_card_number() -> str:
    """A random serial (the number tells nothing of how many cards exist) with its check digits."""
    serial = str(10 ** (SERIAL_DIGITS - 1) + secrets.randbelow(9 * 10 ** (SERIAL_DIGITS - 1)))
    return with_check_digits(serial)


def normalise(text: str) -> str:
    return _SEPARATORS.sub("", text)


def number_problem(text: str) -> str | None:
    """Why ``text`` is not a well-formed card number, or None."""
    number = normalise(text)
    if len(number) != NUMBER_DIGITS or not number.isascii() or not number.isdigit():
        return f"a card number has {NUMBER_DIGITS} digits"
    if int(number) % 97 != 1:
        return "wrong check digits (ISO 7064 MOD 97-10): the number is mistyped"
    return None


def grouped(number: str) -> str:
    """``123456789012`` as printed: ``1234 5678 9012``."""
    return " ".join(number[index : index + 4] for index in range(0, len(number), 4))
