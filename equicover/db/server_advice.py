"""What `equicover serve` tells an operator about the PostgreSQL server's settings.

Real-time settlement commits every claim durably, so its latency is the disk's and the write-ahead
log's. Two settings matter more than any code (measured in ``docs/service.md``, Load):

- ``min_wal_size``: at a province's peak (500 claims/s, about 6 KiB of WAL each) the service
  writes about 3 MB of WAL a second. PostgreSQL recycles old WAL segments into new ones at each
  checkpoint, but keeps no more than it expects to need, and never fewer than ``min_wal_size``.
  When a peak follows a quiet spell, the recycled segments run out and PostgreSQL creates each new
  16 MB segment (zero-fill and flush) while every commit waits: on the development machine a
  stall of 60–150 ms every 6–7 s at 500 claims/s, which alone put p99 above 50 ms. Keeping a
  checkpoint's worth of peak WAL (1 GB) recycled removes it.
- ``synchronous_commit`` and ``fsync``: off, a crash of the database server may lose claims the
  service has already answered as settled (and printed at the hospital's window).

Advice only: the service runs whatever the settings; these are logged at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

RECOMMENDED_MIN_WAL_BYTES = 1 << 30  # 1 GB: 5 minutes (checkpoint_timeout) of a 500 claims/s peak's WAL, rounded up


@dataclass(frozen=True)
class ServerSettings:
    min_wal_bytes: int
    synchronous_commit: str
    fsync: str


def read_server_settings(engine: Engine) -> ServerSettings:
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT pg_size_bytes(current_setting('min_wal_size')), "
                "current_setting('synchronous_commit'), current_setting('fsync')"
            )
        ).one()
    return ServerSettings(min_wal_bytes=int(row[0]), synchronous_commit=str(row[1]), fsync=str(row[2]))


def advice(settings: ServerSettings) -> list[str]:
    """One line per setting that would cost claims latency or durability (see the module)."""
    lines = []
    if settings.min_wal_bytes < RECOMMENDED_MIN_WAL_BYTES:
        lines.append(
            f"PostgreSQL min_wal_size is {settings.min_wal_bytes // 2**20} MB: at peak, new WAL segments would be "
            "created while claims wait to commit (stalls of tens to hundreds of milliseconds); "
            "set min_wal_size = '1GB' and max_wal_size of at least '2GB' (docs/service.md, Load)"
        )
    if settings.synchronous_commit not in {"on", "remote_write", "remote_apply"}:
        lines.append(
            f"PostgreSQL synchronous_commit is {settings.synchronous_commit}: a crash of the database server may lose "
            "claims already answered as settled; set it to on"
        )
    if settings.fsync != "on":
        lines.append("PostgreSQL fsync is off: a crash of the machine may corrupt the database; set it to on")
    return lines


def postgresql_advice(engine: Engine) -> list[str]:
    """:func:`advice` for the server behind ``engine``; nothing for SQLite."""
    if engine.dialect.name != "postgresql":
        return []
    return advice(read_server_settings(engine))
