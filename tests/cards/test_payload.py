"""The QR payload: signed with the scheme's Ed25519 key, checked offline with the published key."""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from equicover.cards import keys
from equicover.cards.numbers import with_check_digits
from equicover.cards.payload import CardFace, parse, sign, verify
from equicover.errors import ValidationFailed

NUMBER = with_check_digits("4000000001")


def _face(key_id: str, **changes: object) -> CardFace:
    fields: dict[str, object] = dict(
        key_id=key_id,
        number=NUMBER,
        holder="P42",
        scheme="VN-SHI",
        category="registered_poor",
        valid_from=dt.date(2024, 7, 1),
        valid_to=dt.date(2025, 6, 30),
    )
    fields.update(changes)
    return CardFace(**fields)  # type: ignore[arg-type]


def _finder(key: keys.SchemeKey):
    return lambda scheme, key_id: key.public_key if (scheme, key_id) == (key.scheme_code, key.key_id) else None


def test_a_signed_payload_verifies_and_says_until_when() -> None:
    key = keys.scheme_key("VN-SHI")
    text = sign(_face(key.key_id), key.private_key)
    assert text.startswith(f"EQC1|{key.key_id}|{NUMBER}|P42|VN-SHI|registered_poor|20240701|20250630|")
    assert len(text) < 200  # a QR code of version 8 or so: quick to scan from a worn card
    check = verify(text, on=dt.date(2024, 9, 1), public_key_of=_finder(key))
    assert check.verdict == "valid"
    assert check.face == _face(key.key_id)
    assert "2025-06-30" in check.reason


def test_the_signature_is_plain_ed25519_over_the_text_before_the_last_bar() -> None:
    """What docs/cards.md tells another programme: split at the last '|', base64url-decode, verify."""
    key = keys.scheme_key("VN-SHI")
    text = sign(_face(key.key_id), key.private_key)
    signed, signature = text.rsplit("|", 1)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    published = keys.load_public_key(key.public_base64url())
    published.verify(raw, signed.encode("utf-8"))  # raises if not
    assert keys.load_public_key(key.public_pem()).public_bytes_raw() == published.public_bytes_raw()


@pytest.mark.parametrize(
    ("old", "new"),
    [("|P42|", "|P43|"), ("registered_poor", "near_poor"), ("|20250630|", "|20260630|"), ("VN-SHI", "VN-SHJ")],
)
def test_an_altered_field_breaks_the_signature(old: str, new: str) -> None:
    key = keys.scheme_key("VN-SHI")
    keys.scheme_key("VN-SHJ")
    text = sign(_face(key.key_id), key.private_key).replace(old, new, 1)
    check = verify(text, on=dt.date(2024, 9, 1), public_key_of=lambda scheme, key_id: key.public_key)
    assert check.verdict == "invalid"
    assert "signature does not match" in check.reason
    assert check.face is None  # nothing of an unverified payload is reported as fact


def test_a_payload_signed_by_another_key_is_invalid() -> None:
    key = keys.scheme_key("VN-SHI")
    forger = Ed25519PrivateKey.generate()
    text = sign(_face(key.key_id), forger)
    assert verify(text, on=dt.date(2024, 9, 1), public_key_of=_finder(key)).verdict == "invalid"


def test_an_unknown_key_id_is_invalid_with_the_reason() -> None:
    key = keys.scheme_key("VN-SHI")
    text = sign(_face("0badc0de"), key.private_key)
    check = verify(text, on=dt.date(2024, 9, 1), public_key_of=_finder(key))
    assert check.verdict == "invalid"
    assert "no published key 0badc0de" in check.reason


def test_validity_is_checked_on_the_date_given() -> None:
    key = keys.scheme_key("VN-SHI")
    text = sign(_face(key.key_id), key.private_key)
    assert verify(text, on=dt.date(2025, 6, 30), public_key_of=_finder(key)).verdict == "valid"
    expired = verify(text, on=dt.date(2025, 7, 1), public_key_of=_finder(key))
    assert (expired.verdict, expired.reason) == ("expired", "expired on 2025-06-30")
    early = verify(text, on=dt.date(2024, 6, 30), public_key_of=_finder(key))
    assert (early.verdict, early.reason) == ("invalid", "not valid before 2024-07-01")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hello", "not a member card payload"),
        ("EQC1|a|b", "has 9 fields"),
        (f"EQC1|xyz|{NUMBER}|P1|S||20240101|20241231|sig", "key id"),
        ("EQC1|0badc0de|400000000199|P1|S||20240101|20241231|sig", "check digits"),
        (f"EQC1|0badc0de|{NUMBER}|Q1|S||20240101|20241231|sig", "holder"),
        (f"EQC1|0badc0de|{NUMBER}|P1|S||20241301|20241231|sig", "validity"),
        (f"EQC1|0badc0de|{NUMBER}|P1|S||20241231|20240101|sig", "validity"),
        (f"EQC1|0badc0de|{NUMBER}|P1|S||20240101|20241231|c2ln", "64 bytes"),
    ],
)
def test_malformed_payloads_are_refused_with_the_reason(text: str, reason: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, str)
    assert reason in parsed


def test_a_field_holding_the_separator_cannot_be_signed() -> None:
    key = keys.scheme_key("VN-SHI")
    with pytest.raises(ValueError, match="may not hold"):
        sign(_face(key.key_id, category="a|b"), key.private_key)


def test_the_key_is_made_once_in_a_private_file_outside_the_database(card_keys: Path) -> None:
    first = keys.scheme_key("VN-SHI")
    again = keys.scheme_key("VN-SHI")
    assert first.key_id == again.key_id
    path = card_keys / "VN-SHI.ed25519.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(card_keys).st_mode) == 0o700
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert [item.name for item in card_keys.iterdir()] == [path.name]  # nothing left aside


def test_a_scheme_code_cannot_point_outside_the_key_directory() -> None:
    with pytest.raises(ValidationFailed, match="cannot name a card key file"):
        keys.scheme_key("../../etc/passwd")
