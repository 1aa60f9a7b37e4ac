"""Point-in-time recovery drill: a base backup and archived WAL bring a database back to a chosen moment.

What production runs (docs/deployment.md, "Backups"): continuous WAL archiving and a nightly base
backup. What a bad night looks like: a script that zeroes the members' accumulators at 02:13 (every
annual cap and deductible freed; claims and payments themselves cannot be rewritten: the database
refuses it). This drill plays
it on a scratch PostgreSQL cluster of its own (two ports on 127.0.0.1; the server you run is not
touched):

1. a primary with ``archive_mode = on`` gets a copy of an equicover database (``--source``);
2. ``pg_basebackup`` takes the base backup; work goes on (a new change-log row), and the moment is noted;
3. the accident: every member's accumulated amounts set to 0; the WAL is archived;
4. a second cluster restores the base backup and replays the archive up to the noted moment;
5. every table of the recovered database is compared with the primary's state at that moment (the
   checksums of scripts/restore_drill.py): the work after the backup is there, the accident is not.

Run as root (it starts the clusters as the ``postgres`` user) or as ``postgres``:

    .venv/bin/python scripts/pitr_drill.py --source postgresql+psycopg://postgres@127.0.0.1:5432/equicover
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from restore_drill import _checksum_postgresql, _pg_connection_options, _tables

PRIMARY_PORT, RECOVERED_PORT = 5491, 5492


def _as_postgres(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, text=True, capture_output=True, **options)


def _bindir() -> Path:
    return Path(subprocess.run(["pg_config", "--bindir"], check=True, text=True, capture_output=True).stdout.strip())


def _url(port: int, database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"


def _state(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    try:
        return {table: _checksum_postgresql(engine, table) for table in _tables(engine)}
    finally:
        engine.dispose()


def _wait_ready(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port), "-q"]).returncode == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the cluster on port {port} did not start")


def drill(source_url: str, folder: Path) -> int:
    bindir = _bindir()
    source = make_url(source_url)
    database = source.database or "equicover"
    primary, base, wal, recovered = folder / "primary", folder / "base", folder / "wal", folder / "recovered"
    for path in (primary, wal):
        path.mkdir(parents=True)
    shutil.chown(folder, "postgres") if os.geteuid() == 0 else None
    for path in (primary, wal):
        shutil.chown(path, "postgres") if os.geteuid() == 0 else None
    _as_postgres([str(bindir / "initdb"), "-D", str(primary), "--auth=trust", "-U", "postgres"])
    settings = (
        f"port = {PRIMARY_PORT}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{folder}'\n"
        "wal_level = replica\narchive_mode = on\n"
        f"archive_command = 'test ! -f {wal}/%f && cp %p {wal}/%f'\n"
    )
    (primary / "postgresql.auto.conf").write_text(settings)
    (primary / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
    )
    pg_ctl = str(bindir / "pg_ctl")
    _as_postgres([pg_ctl, "-D", str(primary), "-l", str(folder / "primary.log"), "-w", "start"])
    try:
        _wait_ready(PRIMARY_PORT)
        options, environment = _pg_connection_options(source)
        dump = folder / "source.dump"
        subprocess.run(
            ["pg_dump", *options, "--format=custom", "--file", str(dump), database], check=True, env=environment
        )
        subprocess.run(["createdb", "-h", "127.0.0.1", "-p", str(PRIMARY_PORT), "-U", "postgres", database], check=True)
        subprocess.run(
            [
                "pg_restore",
                "-h",
                "127.0.0.1",
                "-p",
                str(PRIMARY_PORT),
                "-U",
                "postgres",
                "--no-owner",
                "-d",
                database,
                str(dump),
            ],
            check=True,
        )
        _as_postgres(
            [
                "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                str(PRIMARY_PORT),
                "-U",
                "postgres",
                "-D",
                str(base),
                "-X",
                "stream",
            ]
        )
        print(
            f"base backup taken: {sum(f.stat().st_size for f in base.rglob('*') if f.is_file()) / 1_048_576:,.0f} MiB"
        )

        primary_engine = create_engine(_url(PRIMARY_PORT, database), isolation_level="AUTOCOMMIT")
        try:
            with primary_engine.connect() as connection:
                connection.execute(
                    text(
                        "INSERT INTO change_log (at, actor, entity, entity_id, action, before, after) "
                        "VALUES (now(), 'drill', 'persons', NULL, 'update', NULL, NULL)"
                    )
                )
                time.sleep(1.1)
                target = connection.execute(text("SELECT now()")).scalar_one()
                time.sleep(1.1)
            good = _state(_url(PRIMARY_PORT, database))
            with primary_engine.connect() as connection:
                accident = text("UPDATE accumulators SET position = 0, paid = 0, member_share = 0")
                zeroed = connection.execute(accident).rowcount
                connection.execute(text("SELECT pg_switch_wal()"))
                time.sleep(2)  # the archiver copies the switched segment
        finally:
            primary_engine.dispose()
        print(f"after the backup: one change-log row; recovery target {target.isoformat()}")
        print(f"the accident: {zeroed:,} accumulators set to 0")
        bad = _state(_url(PRIMARY_PORT, database))
    finally:
        _as_postgres([pg_ctl, "-D", str(primary), "-m", "fast", "-w", "stop"])

    shutil.copytree(base, recovered, symlinks=True)
    shutil.chown(recovered, "postgres") if os.geteuid() == 0 else None
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(recovered)], check=True)
    recovered.chmod(0o700)
    (recovered / "postgresql.auto.conf").write_text(
        settings.replace(f"port = {PRIMARY_PORT}", f"port = {RECOVERED_PORT}").replace(
            "archive_mode = on", "archive_mode = off"
        )
        + f"restore_command = 'cp {wal}/%f %p'\nrecovery_target_time = '{target.isoformat()}'\n"
        "recovery_target_action = 'promote'\n"
    )
    (recovered / "recovery.signal").touch()
    if os.geteuid() == 0:
        subprocess.run(
            ["chown", "postgres:postgres", str(recovered / "recovery.signal"), str(recovered / "postgresql.auto.conf")],
            check=True,
        )
    started = time.perf_counter()
    _as_postgres([pg_ctl, "-D", str(recovered), "-l", str(folder / "recovered.log"), "-w", "-t", "120", "start"])
    try:
        _wait_ready(RECOVERED_PORT)
        url = _url(RECOVERED_PORT, database)
        engine = create_engine(url)
        try:
            deadline = time.monotonic() + 60
            while True:
                with engine.connect() as connection:
                    if not connection.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError("recovery did not finish")
                time.sleep(0.5)
        finally:
            engine.dispose()
        print(f"recovered to the target in {time.perf_counter() - started:.1f} s")
        recovered_state = _state(url)
    finally:
        _as_postgres([pg_ctl, "-D", str(recovered), "-m", "fast", "-w", "stop"])

    differing = [table for table in good if recovered_state.get(table) != good[table]]
    print(f"{'table':<32} {'rows':>12}  recovered")
    for table, (rows, _) in good.items():
        print(f"{table:<32} {rows:>12,}  {'same as at the target' if table not in differing else 'DIFFERENT'}")
    accident_undone = recovered_state["accumulators"] != bad["accumulators"]
    print(
        "the accident is not in the recovered database"
        if accident_undone
        else "THE ACCIDENT IS IN THE RECOVERED DATABASE"
    )
    whole = not differing and accident_undone
    print("point-in-time recovery: every table as it was at the target" if whole else "point-in-time recovery FAILED")
    return 0 if whole else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="An equicover PostgreSQL database to copy into the drill.")
    parser.add_argument("--keep", action="store_true", help="Keep the drill's clusters and archive for inspection.")
    arguments = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="equicover-pitr-"))
    try:
        return drill(arguments.source, folder)
    except (OSError, subprocess.CalledProcessError, TimeoutError) as error:
        detail = getattr(error, "stderr", "") or ""
        print(f"the drill could not run: {type(error).__name__}: {error} {detail}".strip(), file=sys.stderr)
        return 2
    finally:
        if arguments.keep:
            print(f"kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
