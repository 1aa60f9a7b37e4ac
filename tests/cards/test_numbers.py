"""Card numbers carry ISO 7064 MOD 97-10 check digits that catch the usual typing mistakes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from equicover.cards.numbers import (
    NUMBER_DIGITS,
    check_digits,
    grouped,
    new_card_number,
    number_problem,
    with_check_digits,
)

serials = st.integers(min_value=10**9, max_value=10**10 - 1).map(str)


def test_the_check_digits_are_those_of_iso_7064_mod_97_10() -> None:
    # IBAN's rule over digits: 98 - (n * 100 mod 97); 123456789000 mod 97 = 6, so the digits are 92.
    assert check_digits("1234567890") == "92"
    assert int("123456789092") % 97 == 1
    assert number_problem("1234 5678 9092") is None
    assert number_problem("1234-5678-9092") is None


@given(serials)
def test_every_number_with_its_check_digits_is_well_formed(serial: str) -> None:
    number = with_check_digits(serial)
    assert len(number) == NUMBER_DIGITS
    assert number_problem(number) is None


@given(serials, st.integers(min_value=0, max_value=11), st.integers(min_value=1, max_value=9))
def test_any_single_wrong_digit_is_caught(serial: str, position: int, shift: int) -> None:
    number = with_check_digits(serial)
    wrong = number[:position] + str((int(number[position]) + shift) % 10) + number[position + 1 :]
    assert number_problem(wrong) is not None


@given(serials, st.integers(min_value=0, max_value=10))
def test_any_swap_of_two_adjacent_different_digits_is_caught(serial: str, position: int) -> None:
    number = with_check_digits(serial)
    if number[position] == number[position + 1]:
        return
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assert number_problem(swapped) is not None


def test_numbers_of_the_wrong_shape_are_refused_with_the_reason() -> None:
    assert "12 digits" in (number_problem("12345") or "")
    assert "12 digits" in (number_problem("12345678909a") or "")
    assert "12 digits" in (number_problem("١٢٣٤٥٦٧٨٩٠٩٧") or "")  # Arabic-Indic digits are not card digits
    assert "check digits" in (number_problem("123456789098") or "")


def test_new_numbers_are_well_formed_and_printed_in_groups_of_four() -> None:
    numbers = {new_card_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(number_problem(number) is None for number in numbers)
    assert grouped("123456789092") == "1234 5678 9092"
