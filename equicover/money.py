"""Money as integer minor units, and exact decimal ratios.

Every amount inside equicover is an ``int`` of minor units (fen, centimes, dong). Text in files
and APIs is a decimal string in major units with at most the currency's minor digits. Ratios are
exact decimals with at most ``RATIO_DIGITS`` places, carried as integers scaled by ``RATIO_SCALE``
so that the real-time engine (Python ints) and the batch engine (DuckDB HUGEINT) do the same
integer arithmetic.

Rounding rules (the only two used anywhere):
- ``round_half_up``: a payment computed from ratios is rounded to the nearest minor unit, halves up.
- ``floor``: a limit computed as a share of an amount (``max_share``, ``max_cumulative_share``)
  is rounded down, so that a ceiling is never exceeded.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

RATIO_DIGITS = 6
RATIO_SCALE: int = 10**RATIO_DIGITS

# ISO 4217 exponents of the currencies the shipped programmes use; a policy may override with
# `minor_digits` (e.g. riel and rial are handled in whole units in practice).
ISO_4217_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "VND": 0,
    "MAD": 2,
    "KHR": 2,
    "IRR": 2,
    "USD": 2,
    "EUR": 2,
    "XOF": 0,
    "XAF": 0,
    "JPY": 0,
    "LAK": 2,
    "THB": 2,
    "IDR": 2,
    "INR": 2,
    "PHP": 2,
    "EGP": 2,
    "TND": 3,
    "DZD": 2,
    "AFN": 2,
    "PKR": 2,
}

_MONEY_TEXT = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")


class MoneyError(ValueError):
    """A money or ratio text that cannot be read exactly."""


def minor_digits_of(currency: str) -> int:
    try:
        return ISO_4217_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}: give the policy's `minor_digits` explicitly") from None


def parse_money(text: str, minor_digits: int, *, allow_negative: bool = False) -> int:
    """``"1234.56"`` with 2 minor digits -> ``123456``. Never goes through a float."""
    if not isinstance(text, str):
        raise MoneyError(f"money must be written as a decimal string, got {type(text).__name__}")
    match = _MONEY_TEXT.match(text.strip())
    if match is None:
        raise MoneyError(f"{text!r} is not a decimal amount")
    sign, whole, fraction = match.groups()
    fraction = fraction or ""
    if len(fraction) > minor_digits:
        raise MoneyError(f"{text!r} has more than {minor_digits} decimal places")
    if sign and not allow_negative and (int(whole) or int(fraction or "0")):
        raise MoneyError(f"{text!r} is negative")
    scale: int = 10**minor_digits  # int ** int is typed Any (a negative power would be a float)
    value = int(whole) * scale + int((fraction + "0" * minor_digits)[:minor_digits] or "0")
    return -value if sign else value


def format_money(minor: int, minor_digits: int) -> str:
    """``123456`` with 2 minor digits -> ``"1234.56"``; ``150000`` with 0 -> ``"150000"``."""
    sign = "-" if minor < 0 else ""
    magnitude = abs(minor)
    if minor_digits == 0:
        return f"{sign}{magnitude}"
    whole, fraction = divmod(magnitude, 10**minor_digits)
    return f"{sign}{whole}.{fraction:0{minor_digits}d}"


def parse_ratio(value: object) -> int:
    """A ratio in [0, 1] written as a TOML number or string -> integer scaled by RATIO_SCALE.

    TOML floats are read back through their shortest repr (``0.9`` -> ``Decimal("0.9")``), which
    is exactly what the analyst typed.
    """
    if isinstance(value, bool):
        raise MoneyError("a ratio must be a number, not a boolean")
    try:
        if isinstance(value, float):
            decimal = Decimal(repr(value))
        elif isinstance(value, (int, str)):
            decimal = Decimal(str(value).strip())
        else:
            raise MoneyError(f"a ratio must be a number, got {type(value).__name__}")
    except InvalidOperation:
        raise MoneyError(f"{value!r} is not a number") from None
    if not decimal.is_finite():
        raise MoneyError(f"{value!r} is not a finite number")
    if decimal < 0 or decimal > 1:
        raise MoneyError(f"ratio {value!r} is outside [0, 1]")
    scaled = decimal * RATIO_SCALE
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"ratio {value!r} has more than {RATIO_DIGITS} decimal places")
    return int(scaled)


def format_ratio(scaled: int) -> str:
    return str((Decimal(scaled) / RATIO_SCALE).normalize())


def round_half_up(numerator: int, denominator: int) -> int:
    """Nearest integer to numerator/denominator, halves away from zero (denominator > 0)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((2 * -numerator + denominator) // (2 * denominator))


def apply_ratio(amount: int, ratio_scaled: int) -> int:
    """round_half_up(amount x ratio) in minor units."""
    return round_half_up(amount * ratio_scaled, RATIO_SCALE)


def floor_share(amount: int, ratio_scaled: int) -> int:
    """floor(amount x ratio) in minor units (amount >= 0)."""
    return (amount * ratio_scaled) // RATIO_SCALE
