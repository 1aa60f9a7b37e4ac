"""Money text with any count of minor digits: what is formatted reads back to the same minor
units, and carries exactly the digits asked (0 digits: no decimal point at all)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equicover.money import MoneyError, format_money, minor_digits_of, parse_money


@given(minor=st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1), digits=st.integers(min_value=0, max_value=6))
def test_formatted_money_reads_back_exactly(minor: int, digits: int) -> None:
    text = format_money(minor, digits)
    assert parse_money(text, digits, allow_negative=True) == minor
    if digits == 0:
        assert text == str(minor)
    else:
        assert len(text.rpartition(".")[2]) == digits


def test_whole_riel_are_not_sen() -> None:
    assert format_money(150_000, 0) == "150000"
    assert format_money(150_000, minor_digits_of("KHR")) == "1500.00"  # what the ISO exponent alone would print


def test_an_unknown_currency_has_no_digits() -> None:
    with pytest.raises(MoneyError, match="unknown currency 'QQQ'"):
        minor_digits_of("QQQ")
