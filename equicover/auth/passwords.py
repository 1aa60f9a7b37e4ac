"""The password rule (OWASP ASVS 4.0, 2.1): what a new or reset password must be.

- at least :data:`MIN_LENGTH` (12) characters and at most :data:`MAX_LENGTH` (128); any character
  allowed (no composition rules, spaces included);
- not one of the common passwords shipped with the package (``common-passwords.txt``: Django's list
  of 19,640 passwords from breach corpora, and well-known patterns of 12 characters or more),
  compared in lower case, nor one of them wrapped in digits and symbols (``password2024!``), nor
  a short unit repeated (``abcabcabcabc``);
- not containing the username (case-insensitive; for usernames of three characters or more).

Refusals are :class:`~equicover.errors.ValidationFailed` on the field ``password``; the password
itself never appears in them.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from equicover.errors import ValidationFailed

MIN_LENGTH = 12
MAX_LENGTH = 128
_WRAPPING = "0123456789!@#$%^&*()-_=+.,;:?/~`'\"[]{}<>|\\ "


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case (loaded once per process)."""
    text = files("equicover.auth").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _repeated_unit(text: str) -> bool:
    return any(len(text) % size == 0 and text == text[:size] * (len(text) // size) for size in range(1, 5))


def password_problem(username: str, password: str) -> str | None:
    """Why ``password`` may not be used by ``username``, or None when it may."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    lowered = password.lower()
    name = username.strip().lower()
    if len(name) >= 3 and name in lowered:
        return "must not contain the username"
    common = common_passwords()
    core = lowered.strip(_WRAPPING)
    if lowered in common or (len(core) >= 4 and core in common) or _repeated_unit(lowered):
        return "is too common: choose a longer phrase that others would not guess"
    return None


def check_password(*, record: str, username: str, password: str) -> None:
    """Refuse (422, field ``password``) a password that breaks the rule."""
    problem = password_problem(username, password)
    if problem is not None:
        raise ValidationFailed(record, "password", problem)
