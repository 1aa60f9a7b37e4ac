"""What `equicover serve` says about the database server's settings."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from equicover.db.server_advice import (
    RECOMMENDED_MIN_WAL_BYTES,
    ServerSettings,
    advice,
    postgresql_advice,
    read_server_settings,
)

GOOD = ServerSettings(min_wal_bytes=RECOMMENDED_MIN_WAL_BYTES, synchronous_commit="on", fsync="on")


def test_a_well_set_server_gets_no_advice() -> None:
    assert advice(GOOD) == []
    assert advice(ServerSettings(min_wal_bytes=4 << 30, synchronous_commit="remote_apply", fsync="on")) == []


def test_a_small_min_wal_size_is_named_with_its_size_and_the_fix() -> None:
    (line,) = advice(ServerSettings(min_wal_bytes=80 << 20, synchronous_commit="on", fsync="on"))
    assert "min_wal_size is 80 MB" in line and "min_wal_size = '1GB'" in line


@pytest.mark.parametrize("value", ["off", "local"])
def test_commits_that_do_not_wait_for_the_disk_are_named(value: str) -> None:
    (line,) = advice(ServerSettings(min_wal_bytes=RECOMMENDED_MIN_WAL_BYTES, synchronous_commit=value, fsync="on"))
    assert f"synchronous_commit is {value}" in line


def test_fsync_off_is_named() -> None:
    lines = advice(ServerSettings(min_wal_bytes=RECOMMENDED_MIN_WAL_BYTES, synchronous_commit="on", fsync="off"))
    assert len(lines) == 1 and "fsync is off" in lines[0]


def test_the_advice_reads_the_real_server(db_engine: Engine) -> None:
    if db_engine.dialect.name != "postgresql":
        assert postgresql_advice(db_engine) == []
        return
    with db_engine.connect() as connection:
        shown = connection.execute(text("SHOW min_wal_size")).scalar_one()
    settings = read_server_settings(db_engine)
    number, unit = int(shown[:-2]), shown[-2:]
    assert settings.min_wal_bytes == number * {"kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]
    assert settings.synchronous_commit in {"on", "off", "local", "remote_write", "remote_apply"}
    assert postgresql_advice(db_engine) == advice(settings)
