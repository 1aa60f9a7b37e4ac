"""The signing keys of member cards: one Ed25519 key per scheme, in a file, never in the database.

A database dump or backup therefore never carries the key that makes cards. The directory is
``EQUICOVER_CARD_KEYS`` (default ``./card-keys``); each scheme's private key is
``<scheme code>.ed25519.pem`` (PKCS #8, unencrypted, mode 0600 in a 0700 directory), generated the
first time a card of the scheme is signed or its public key asked for. The public key is what a
scheme publishes (``equicover cards public-key``); its key id is the first 8 hex digits of the
SHA-256 of the raw 32-byte public key, carried in every payload so that a scheme can rotate keys.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from equicover.errors import ValidationFailed

KEYS_ENV = "EQUICOVER_CARD_KEYS"
DEFAULT_DIRECTORY = "card-keys"
# A scheme code names a file: only these characters, so that no code can point outside the directory.
SCHEME_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def key_directory() -> Path:
    configured = os.environ.get(KEYS_ENV, "").strip()
    return Path(configured) if configured else Path.cwd() / DEFAULT_DIRECTORY


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class SchemeKey:
    scheme_code: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_key)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def public_base64url(self) -> str:
        return base64.urlsafe_b64encode(raw_public_key(self.public_key)).rstrip(b"=").decode("ascii")


def key_path(scheme_code: str, directory: Path | None = None) -> Path:
    if not SCHEME_FILE_NAME.match(scheme_code):
        raise ValidationFailed(
            f"scheme {scheme_code[:64]!r}", "code", "cannot name a card key file (letters, digits, '.', '_', '-')"
        )
    return (directory or key_directory()) / f"{scheme_code}.ed25519.pem"


def scheme_key(scheme_code: str, directory: Path | None = None) -> SchemeKey:
    """The scheme's signing key, generated and written (0600) the first time it is needed."""
    path = key_path(scheme_code, directory)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        generated = Ed25519PrivateKey.generate()
        pem = generated.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Written aside, then linked in place: a process issuing the first cards at the same
        # moment either links first or reads the whole key the other linked; never half a file.
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValidationFailed(f"scheme {scheme_code}", "card key", "the key file does not hold an Ed25519 key")
    return SchemeKey(scheme_code, loaded)


def load_public_key(text: str) -> Ed25519PublicKey:
    """A published public key: PEM (SubjectPublicKeyInfo) or the raw 32 bytes in base64url."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        loaded = serialization.load_pem_public_key(stripped.encode("ascii"))
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return loaded
    raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)
