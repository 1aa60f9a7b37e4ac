"""The QR payload of a member card: compact text, signed with the scheme's Ed25519 key.

See ``docs/cards.md`` for the format, which another programme can verify with any Ed25519
library. Pure: no database, no clock (the caller gives the date to check against).

    EQC1|<key id>|<card number>|<holder>|<scheme>|<category>|<valid from>|<valid to>|<signature>

The signature (64 bytes, base64url without padding) is over the UTF-8 bytes of everything before
the last ``|``. ``holder`` is ``P<person id>`` or ``H<household id>``; dates are ``YYYYMMDD``;
``category`` may be empty. No field may hold ``|``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from equicover.cards.numbers import number_problem

VERSION = "EQC1"
SEPARATOR = "|"
FIELDS = 9
_HOLDER = re.compile(r"^[PH][1-9][0-9]{0,9}$")
_DATE = re.compile(r"^[0-9]{8}$")
_KEY_ID = re.compile(r"^[0-9a-f]{8}$")

Verdict = Literal["valid", "invalid", "expired"]
PublicKeyFinder = Callable[[str, str], Ed25519PublicKey | None]  # (scheme code, key id) -> key


@dataclass(frozen=True, slots=True)
class CardFace:
    """What a card's payload says."""

    key_id: str
    number: str
    holder: str  # P<person id> or H<household id>
    scheme: str
    category: str
    valid_from: dt.date
    valid_to: dt.date

    def signed_text(self) -> str:
        parts = (
            VERSION,
            self.key_id,
            self.number,
            self.holder,
            self.scheme,
            self.category,
            self.valid_from.strftime("%Y%m%d"),
            self.valid_to.strftime("%Y%m%d"),
        )
        for part in parts:
            if SEPARATOR in part:
                raise ValueError(f"a card payload field may not hold {SEPARATOR!r}")
        return SEPARATOR.join(parts)


def sign(face: CardFace, private_key: Ed25519PrivateKey) -> str:
    """The whole payload: the signed text, ``|``, the signature in base64url."""
    text = face.signed_text()
    signature = private_key.sign(text.encode("utf-8"))
    return text + SEPARATOR + base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class CardCheck:
    verdict: Verdict
    reason: str
    face: CardFace | None = None


def _date(text: str) -> dt.date | None:
    if not _DATE.match(text):
        return None
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def parse(payload: str) -> tuple[CardFace, bytes, str] | str:
    """The face, the signature and the signed text of a payload, or why it cannot be read."""
    parts = payload.strip().split(SEPARATOR)
    if parts[0] != VERSION:
        return f"not a member card payload (it starts with {VERSION})"
    if len(parts) != FIELDS:
        return f"a card payload has {FIELDS} fields separated by '{SEPARATOR}', not {len(parts)}"
    _, key_id, number, holder, scheme, category, start, end, signature_text = parts
    if not _KEY_ID.match(key_id):
        return "the key id is not 8 hexadecimal digits"
    problem = number_problem(number)
    if problem is not None:
        return f"card number: {problem}"
    if not _HOLDER.match(holder):
        return "the holder is not P<person id> or H<household id>"
    if not scheme:
        return "the scheme is missing"
    valid_from, valid_to = _date(start), _date(end)
    if valid_from is None or valid_to is None or valid_to < valid_from:
        return "the validity is not two dates YYYYMMDD in order"
    try:
        signature = base64.urlsafe_b64decode(signature_text + "=" * (-len(signature_text) % 4))
    except (binascii.Error, ValueError):
        return "the signature is not base64url"
    if len(signature) != 64:
        return "the signature is not 64 bytes"
    face = CardFace(key_id, number, holder, scheme, category, valid_from, valid_to)
    return face, signature, payload.strip().rsplit(SEPARATOR, 1)[0]


def verify(payload: str, *, on: dt.date, public_key_of: PublicKeyFinder) -> CardCheck:
    """Is the payload a card signed by its scheme's key and valid on ``on``, and if not, why."""
    parsed = parse(payload)
    if isinstance(parsed, str):
        return CardCheck("invalid", parsed)
    face, signature, signed_text = parsed
    public_key = public_key_of(face.scheme, face.key_id)
    if public_key is None:
        return CardCheck("invalid", f"no published key {face.key_id} of scheme {face.scheme}", face)
    try:
        public_key.verify(signature, signed_text.encode("utf-8"))
    except InvalidSignature:
        return CardCheck("invalid", "the signature does not match: the payload was altered or not signed by the scheme")
    if on < face.valid_from:
        return CardCheck("invalid", f"not valid before {face.valid_from.isoformat()}", face)
    if on > face.valid_to:
        return CardCheck("expired", f"expired on {face.valid_to.isoformat()}", face)
    return CardCheck("valid", f"signed by scheme {face.scheme}, valid until {face.valid_to.isoformat()}", face)
