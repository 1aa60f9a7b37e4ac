"""Migration 0007 gives every stored policy version and payment batch its minor digits: from the
version's own text (riel and rial programmes count whole units), else the currency's ISO
exponent; a batch from the versions of its claims' currency. Then the columns are required."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade

POLICIES = Path(__file__).resolve().parents[2] / "policies"
UPLOADED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _version(connection, version_id: int, policy: str, currency: str, source_text: str) -> None:
    connection.execute(
        text(
            "INSERT INTO policy_versions (id, policy_id, name, currency, effective_from, source_text, sha256, "
            "uploaded_at, uploaded_by) VALUES (:id, :policy, :policy, :currency, :starts, :source, 'x', :at, 'test')"
        ),
        {
            "id": version_id,
            "policy": policy,
            "currency": currency,
            "starts": dt.date(2000 + version_id, 1, 1),
            "source": source_text,
            "at": UPLOADED,
        },
    )


def _batch(connection, batch_id: int, currency: str) -> None:
    connection.execute(
        text(
            "INSERT INTO payment_batches (id, provider_id, period_starts, period_ends, currency, status, claim_count, "
            "claims_amount, capitation_amount, recoveries_amount, net_amount, created_at, created_by) VALUES "
            "(:id, 1, :day, :day, :currency, 'draft', 0, 0, 0, 0, 0, :at, 'test')"
        ),
        {"id": batch_id, "day": dt.date(2015, 3, 1), "currency": currency, "at": UPLOADED},
    )


def test_stored_versions_and_batches_get_their_digits(empty_db_url: str) -> None:
    upgrade(empty_db_url, revision="0006")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            _version(connection, 1, "kh-hef-2015", "KHR", (POLICIES / "kh-hef-2015.toml").read_text(encoding="utf-8"))
            _version(connection, 2, "ir-ihio-2023", "IRR", (POLICIES / "ir-ihio-2023.toml").read_text(encoding="utf-8"))
            _version(connection, 3, "cn-yaan-2018", "CNY", (POLICIES / "cn-yaan-2018.toml").read_text(encoding="utf-8"))
            _version(connection, 4, "bulk-without-text", "VND", "")
            connection.execute(text("INSERT INTO locations (id, code, name, level) VALUES (1, 'KH', 'KH', 'country')"))
            connection.execute(
                text(
                    "INSERT INTO providers (id, code, name, level, location_id, designated, ownership) "
                    "VALUES (1, 'RH', 'RH', 'referral_hospital', 1, true, 'public')"
                )
            )
            _batch(connection, 1, "KHR")  # no claims: the riel versions' digits
            _batch(connection, 2, "USD")  # no version in dollars: ISO 4217
        upgrade(empty_db_url)
        with engine.begin() as connection:
            versions = dict(connection.execute(text("SELECT id, minor_digits FROM policy_versions")).all())
            batches = dict(connection.execute(text("SELECT id, minor_digits FROM payment_batches")).all())
        assert versions == {1: 0, 2: 0, 3: 2, 4: 0}
        assert batches == {1: 0, 2: 2}
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE policy_versions SET minor_digits = NULL WHERE id = 1"))
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE payment_batches SET minor_digits = 9 WHERE id = 1"))
    finally:
        engine.dispose()


def test_a_version_whose_digits_cannot_be_known_stops_the_upgrade(empty_db_url: str) -> None:
    upgrade(empty_db_url, revision="0006")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as connection:
            _version(connection, 1, "unknown-money", "QQQ", "")
        with pytest.raises(RuntimeError, match="policy version 1: currency QQQ"):
            upgrade(empty_db_url)
    finally:
        engine.dispose()
