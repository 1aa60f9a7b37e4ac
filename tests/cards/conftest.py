"""Every card test signs with keys of its own, in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from equicover.cards.keys import KEYS_ENV


@pytest.fixture(autouse=True)
def card_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "card-keys"
    monkeypatch.setenv(KEYS_ENV, str(directory))
    return directory
