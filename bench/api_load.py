"""Load test of the HTTP service: real-time claim submissions over loopback against PostgreSQL.

    .venv/bin/python bench/api_load.py                      # 100 and 500 requests/s, 20 s each
    .venv/bin/python bench/api_load.py --rates 100,300,500 --duration 20 --workers 2
    .venv/bin/python bench/api_load.py --keep ...; then --reuse ...   # skip the set-up next time

What it does:
1. creates a fresh PostgreSQL database (``--admin-url``, default the local server), migrates it,
   generates a synthetic province into it (``equicover generate``, ``--people``) with its year of
   claims as a CSV, stores the cn-yaan-2018 policy for the province's scheme and makes an admin
   account (``--reuse``: runs against the database an earlier ``--keep`` run left);
2. starts ``equicover serve`` (uvicorn, ``--workers`` processes) on 127.0.0.1 in a subprocess;
3. for each rate, an open-loop generator sends the province's claims as ``POST /api/v1/claims``
   at that fixed rate for ``--duration`` seconds, whatever the answers' speed (no coordinated
   omission: latency counts from the moment a request was *due*). The generator is a bare
   asyncio protocol on keep-alive connections with every request prepared before the clock
   starts: it shares the cores with the server, and an HTTP client library would spend more CPU
   per request than the service. At most MAX_OUTSTANDING requests are in flight; a request due
   while that many are waiting is not sent and counts as an error (status -1);
4. prints, per rate: requests due, settled (201), errors, achieved throughput (settled per
   second of the run), p50 / p99 / max latency in milliseconds, and the CPU milliseconds per
   request of the server's processes, of the whole PostgreSQL server (every database on it) and
   of the generator (Linux /proc);
5. before each run, leaves enough WAL segments recycled ahead for it (``--no-checkpoint`` to
   leave the server as it is): switches through new segments, then ``CHECKPOINT``, as a server
   in steady use with ``min_wal_size = 1GB`` has them (see docs/service.md, Load);
6. beside each run, times the disk's ``fdatasync`` (``bench/disk_probe.py``, in a scratch file
   next to the database's data directory, every 20 ms) and prints its p50 / p99 / max, the share
   of the run spent in syncs slower than 50 ms, and how many of the requests slower than 50 ms
   were in flight during such a sync: a commit waits for the disk, so a disk that stalls puts
   its stalls into the claims' p99 (``--no-disk-probe`` to skip it).

``--synchronous-commit off`` is a measurement, not a way to run: it sets the bench database's
commits not to wait for the WAL flush, so that the run shows the service without the disk's
wait (a crash of the database server could then lose the last acknowledged claims). The setting is
put back at the end.

The load generator runs on the same cores as the server and the database: on a 2-core machine it
takes a share of the CPU the service would otherwise have. The database is dropped at the end
unless ``--keep`` (or ``--reuse``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import disk_probe  # noqa: E402

from equicover.admin.service import create_user  # noqa: E402
from equicover.auth.service import get_user, issue_token  # noqa: E402
from equicover.claims.service import store_policy_version  # noqa: E402
from equicover.db.engine import make_engine  # noqa: E402
from equicover.db.migrate import upgrade  # noqa: E402
from equicover.db.session import make_session_factory, session_scope  # noqa: E402
from equicover.enrolment.models import Scheme  # noqa: E402
from equicover.settlement.claims_file import parse_amount  # noqa: E402

EQUICOVER = str(Path(sys.executable).parent / "equicover")
POLICY = ROOT / "policies" / "cn-yaan-2018.toml"
MAX_OUTSTANDING = 400  # requests in flight from the generator at most; beyond that a due request is counted as failed
SLOW_MS = disk_probe.SLOW_MS


@functools.cache
def _admin_engine(admin_url: str):
    """One engine on the server's admin database for the whole bench (set-up, WAL, probe, clean-up)."""
    url = make_url(admin_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def fresh_database(admin_url: str, name: str) -> str:
    with _admin_engine(admin_url).connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return _database_url(admin_url, name)


def _database_url(admin_url: str, name: str) -> str:
    url = make_url(admin_url).set(database=name)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def set_synchronous_commit(admin_url: str, name: str, value: str) -> None:
    """Every new connection to the bench database commits with ``synchronous_commit = value``."""
    with _admin_engine(admin_url).connect() as connection:
        if value == "on":
            connection.execute(text(f'ALTER DATABASE "{name}" RESET synchronous_commit'))
        else:
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = {value}'))


def drop_database(admin_url: str, name: str) -> None:
    with _admin_engine(admin_url).connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def prepare(url: str, people: int, claims_csv: Path) -> None:
    """Migrate, generate the province (and its claims as ``claims_csv``), store the policy, make the bench user."""
    upgrade(url)
    subprocess.run(
        [
            EQUICOVER,
            "generate",
            "--people",
            str(people),
            "--seed",
            "11",
            "--database-url",
            url,
            "--claims",
            str(claims_csv),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        scheme = session.query(Scheme).order_by(Scheme.id).first()
        assert scheme is not None, "the generator made no scheme"
        store_policy_version(
            session=session, source_text=POLICY.read_text(encoding="utf-8"), scheme_code=scheme.code, actor="bench"
        )
        create_user(session=session, username="bench-admin", password="bench-password", role="admin")
    # As autovacuum would have by the time a province goes live (this machine's PostgreSQL runs
    # with autovacuum off): planner statistics for every table.
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    engine.dispose()


def bench_token(url: str) -> str:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        token = issue_token(session=session, user=get_user(session=session, username="bench-admin"))
    engine.dispose()
    return token


def claim_bodies(claims_csv: Path) -> list[dict[str, object]]:
    bodies: list[dict[str, object]] = []
    with claims_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            total, eligible = parse_amount(row["total"], 2), parse_amount(row["eligible"], 2)
            if not isinstance(total, int) or not isinstance(eligible, int):
                continue
            bodies.append(
                {
                    "claim_id": row["claim_id"],
                    "person_id": int(row["member_id"]),
                    "provider_code": row["provider_id"],
                    "service_date": row["service_date"],
                    "care_type": row["care_type"],
                    "diagnosis": row["diagnosis"],
                    "days": int(row["days"]),
                    "total": total,
                    "eligible": eligible,
                    "referred": row["referred"] == "true",
                }
            )
    return bodies


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EQUICOVER_DATABASE_URL": url}
    with log.open("wb") as output:
        server = subprocess.Popen(
            [EQUICOVER, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode} (port {port} taken?)")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the server did not start within 60 s")


class _Exchange(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: send a prepared request, wait for its status.

    A bare protocol instead of an HTTP client library: the generator shares the 2 cores with the
    server and the database, and a client library spends more CPU per request than the service.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(0)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        if not self.waiter.done():
            self.waiter.set_result(int(head[0].split(" ", 2)[1]))

    async def send(self, request: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def _cpu_seconds(pids: list[int], part: str = "all") -> float:
    """User + system (``part``: "user", "system" or "all") CPU seconds used so far by these processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        user, system = int(fields[11]), int(fields[12])
        used += {"user": user, "system": system}.get(part, user + system)
    return used / ticks


def _process_tree(root: int) -> list[int]:
    """``root`` and its descendants (the uvicorn supervisor and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


def _postgres_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def prepared_requests(host: str, token: str, bodies: list[dict[str, object]], count: int, tag: str) -> list[bytes]:
    """The ``count`` POST /api/v1/claims requests of one run, as bytes, built before the clock starts."""
    requests = []
    for index in range(count):
        body = dict(bodies[index % len(bodies)])
        body["claim_id"] = f"{body['claim_id']}-{tag}-{index}"
        payload = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST /api/v1/claims HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        requests.append(head.encode() + payload)
    return requests


def data_directory_parent(admin_url: str) -> str | None:
    """The folder holding the database server's data directory, if this process may write there."""
    try:
        with _admin_engine(admin_url).connect() as connection:
            folder = os.path.dirname(str(connection.execute(text("SHOW data_directory")).scalar_one()).rstrip("/"))
    except Exception:
        return None
    return folder if os.path.isdir(folder) and os.access(folder, os.W_OK) else None


class WalWatch:
    """The database server's write-ahead log seen from the admin connection: how much a run writes,
    and how many segments are ready ahead of it (recycled by a checkpoint, so that switching to
    them costs no new 16 MB file to zero-fill and flush while every commit waits)."""

    def __init__(self, admin_url: str) -> None:
        self.engine = _admin_engine(admin_url)

    def position(self) -> str:
        with self.engine.connect() as connection:
            return str(connection.execute(text("SELECT pg_current_wal_lsn()")).scalar_one())

    def written_since(self, position: str) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :p)"), {"p": position}
                ).scalar_one()
            )

    def segments_ready(self) -> tuple[int, int] | None:
        """(segments ready ahead, segment size in bytes), or None without the right to list pg_wal."""
        try:
            with self.engine.connect() as connection:
                ready = connection.execute(
                    text(
                        "SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$' "
                        "AND name > pg_walfile_name(pg_current_wal_lsn())"
                    )
                ).scalar_one()
                size = connection.execute(
                    text("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")
                ).scalar_one()
        except Exception:
            return None
        return int(ready), int(size)

    def recycle_ahead(self, needed_bytes: int) -> bool:
        """Leave at least ``needed_bytes`` of WAL segments recycled ahead, as on a server in steady use.

        A checkpoint recycles the segments behind it into future ones, as many as PostgreSQL expects
        to need from the WAL written since the last checkpoint. So when fewer are ready, switch
        through that many new segments first (each switch creates one), then checkpoint. Returns
        False if the server refuses (not a superuser).
        """
        try:
            ready = self.segments_ready()
            if ready is None:
                return False
            missing = -(-needed_bytes // ready[1]) - ready[0]
            with self.engine.connect() as connection:
                for _ in range(max(0, missing + 1)):
                    connection.execute(text("SELECT pg_logical_emit_message(false, 'equicover-bench', '')"))
                    connection.execute(text("SELECT pg_switch_wal()"))
                connection.execute(text("CHECKPOINT"))
        except Exception:
            return False
        return True


def start_disk_probe(folder: str | None, seconds: float) -> subprocess.Popen[bytes] | None:
    if folder is None:
        return None
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "disk_probe.py"), folder, "--seconds", f"{seconds:.1f}", "--json"],
        stdout=subprocess.PIPE,
    )


def disk_figures(
    samples: list[tuple[float, float]] | None, timings: list[tuple[float, float]], elapsed: float
) -> dict[str, float] | None:
    """The probe's figures, and how the requests slower than SLOW_MS line up with the slow syncs."""
    if samples is None:
        return None
    figures: dict[str, float] = disk_probe.summary(samples, elapsed)
    stalls = sorted((started, started + duration) for started, duration in samples if duration * 1000 >= SLOW_MS)
    slow = [(due, done) for due, done in timings if (done - due) * 1000 > SLOW_MS]
    figures["slow_requests"] = len(slow)
    figures["slow_requests_in_stall"] = sum(
        1 for due, done in slow if any(start < done and end > due for start, end in stalls)
    )
    return figures


async def run_rate(
    port: int,
    server_pid: int,
    token: str,
    bodies: list[dict[str, object]],
    rate: int,
    duration: float,
    tag: str,
    probe_folder: str | None = None,
) -> dict[str, object]:
    count = int(rate * duration)
    requests = prepared_requests(f"127.0.0.1:{port}", token, bodies, count, tag)
    loop = asyncio.get_running_loop()
    timings: list[tuple[float, float]] = []  # (due, answered) on the monotonic clock, shared with the disk probe
    statuses: dict[int, int] = {}
    idle: list[_Exchange] = []
    outstanding = 0
    skipped = 0

    async def one(request: bytes, due: float) -> None:
        nonlocal outstanding
        connection = idle.pop() if idle else None
        try:
            reused = connection is not None and not connection.closed
            if not reused:
                _, connection = await loop.create_connection(_Exchange, "127.0.0.1", port)
            status = await connection.send(request)
            if status == 0 and reused:
                # The server closed this idle keep-alive connection as the request went out. A
                # client resends on a new one, as claim submission is idempotent by claim_id.
                _, connection = await loop.create_connection(_Exchange, "127.0.0.1", port)
                status = await connection.send(request)
        except OSError:
            status = 0
        timings.append((due, time.monotonic()))
        statuses[status] = statuses.get(status, 0) + 1
        outstanding -= 1
        if connection is not None and not connection.closed and status:
            idle.append(connection)

    server_pids = _process_tree(server_pid)
    database_pids = _postgres_processes()  # the whole server: backends, WAL writer, checkpointer
    probe = start_disk_probe(probe_folder, duration + 1.0)
    cpu_before = (
        _cpu_seconds(server_pids),
        _cpu_seconds(database_pids),
        time.process_time(),
        _cpu_seconds(server_pids, "system"),
    )
    start = time.monotonic()
    # Only the requests still waiting are kept: gathering every task of the run at its end would
    # stall this loop for tens of milliseconds, and the last answers would be read that late.
    pending: set[asyncio.Task[None]] = set()
    for index, request in enumerate(requests):
        due = start + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if outstanding >= MAX_OUTSTANDING:
            skipped += 1  # the server is this far behind: count the request as failed, do not pile up sockets
            continue
        outstanding += 1
        task = asyncio.create_task(one(request, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    elapsed = time.monotonic() - start
    cpu_after = (
        _cpu_seconds(server_pids),
        _cpu_seconds(database_pids),
        time.process_time(),
        _cpu_seconds(server_pids, "system"),
    )
    cpu_ms = [(after - before) * 1000 / max(1, count - skipped) for before, after in zip(cpu_before, cpu_after)]
    for connection in idle:
        if connection.transport is not None:
            connection.transport.close()
    ordered = sorted(done - due for due, done in timings) or [float("nan")]
    samples = None
    if probe is not None:
        output, _ = probe.communicate()
        samples = [(started, duration) for started, duration in json.loads(output or b"[]")]
    settled = statuses.get(201, 0)
    if skipped:
        statuses[-1] = skipped  # -1: not sent, MAX_OUTSTANDING requests were already waiting
    return {
        "rate": rate,
        "sent": count,
        "settled": settled,
        "errors": count - settled,
        "statuses": statuses,
        "throughput": settled / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max": ordered[-1] * 1000,
        "elapsed": elapsed,
        "cpu_ms": cpu_ms,  # CPU milliseconds per request sent: server, PostgreSQL, this generator, server in the kernel
        "disk": disk_figures(samples, timings, elapsed),
        "timings": timings,
        "disk_samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("EQUICOVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--database", default="equicover_api_bench")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--keep", action="store_true", help="keep the database (and the claims file) afterwards")
    parser.add_argument("--reuse", action="store_true", help="run against the database kept by an earlier --keep run")
    parser.add_argument("--no-disk-probe", action="store_true", help="do not time the disk's syncs beside each run")
    parser.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="do not recycle WAL segments ahead of each run: the run may create new segments as it goes",
    )
    parser.add_argument(
        "--timeline", type=Path, help="write each run's request timings and disk syncs to this JSON file"
    )
    parser.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="off: a measurement of the service without the disk's flush wait (see above); default on",
    )
    args = parser.parse_args()
    rates = [int(part) for part in args.rates.split(",") if part.strip()]

    if args.port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    kept = Path(tempfile.gettempdir()) / "equicover-api-bench"
    claims_csv = kept / "claims.csv"
    if args.reuse:
        if not claims_csv.exists():
            raise SystemExit(f"--reuse needs a database kept by an earlier --keep run (and {claims_csv})")
        url = _database_url(args.admin_url, args.database)
    else:
        url = fresh_database(args.admin_url, args.database)
    server = None
    try:
        if not args.reuse:
            kept.mkdir(exist_ok=True)
            started = time.perf_counter()
            prepare(url, args.people, claims_csv)
            print(f"prepared {args.people:,} persons in {time.perf_counter() - started:.1f} s", flush=True)
        token, bodies = bench_token(url), claim_bodies(claims_csv)
        run = uuid.uuid4().hex[:6]  # claim ids unique across runs on a reused database
        set_synchronous_commit(args.admin_url, args.database, args.synchronous_commit)
        probe_folder = None if args.no_disk_probe else data_directory_parent(args.admin_url)
        log = Path(tempfile.gettempdir()) / "equicover-api-bench-server.log"
        server = start_server(url, args.port, args.workers, log)
        print(f"server log: {log}")
        if args.synchronous_commit == "off":
            print(
                "synchronous_commit = off: commits do not wait for the WAL flush "
                "(a measurement of the service without the disk)"
            )
        asyncio.run(run_rate(args.port, server.pid, token, bodies, 50, 4, f"warmup-{run}"))
        wal = WalWatch(args.admin_url)
        if not args.no_checkpoint:
            print(
                "before each run: WAL segments for it recycled ahead (switches, then CHECKPOINT), as on a server in "
                "steady use with min_wal_size = 1GB (--no-checkpoint: start as the server is)"
            )
        print(
            f"{'rate/s':>7} {'sent':>7} {'settled':>8} {'errors':>7} {'settled/s':>10} "
            f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
            f"   CPU ms/request: {'server':>6} {'pg':>5} {'gen':>5}"
        )
        timelines = []
        for rate in rates:
            # Generously 8 KiB of WAL per claim (5-7 KiB measured), half as much again in reserve.
            checkpointed = not args.no_checkpoint and wal.recycle_ahead(int(rate * args.duration * 8192 * 1.5))
            ready = wal.segments_ready()
            wal_start = wal.position()
            result = asyncio.run(
                run_rate(args.port, server.pid, token, bodies, rate, args.duration, f"r{rate}-{run}", probe_folder)
            )
            if args.timeline is not None:
                timelines.append({"rate": rate, "requests": result["timings"], "disk_syncs": result["disk_samples"]})
                args.timeline.write_text(json.dumps(timelines))
            cpu_ms = result["cpu_ms"]
            print(
                f"{result['rate']:>7} {result['sent']:>7} {result['settled']:>8} {result['errors']:>7} "
                f"{result['throughput']:>10.1f} {result['p50']:>8.1f} {result['p99']:>8.1f} {result['max']:>8.1f}"
                f"                   {cpu_ms[0]:>6.2f} {cpu_ms[1]:>5.2f} {cpu_ms[2]:>5.2f}",
                flush=True,
            )
            if result["errors"]:
                print(f"        statuses: {result['statuses']}")
            written = wal.written_since(wal_start)
            ahead = (
                "" if ready is None else f"; {ready[0]} segments ({ready[0] * ready[1] // 2**20} MB) were ready ahead"
            )
            per_claim_kib = written / max(1, result["settled"]) / 1024
            refused = ""
            if not (checkpointed or args.no_checkpoint):
                refused = " (not recycled ahead: the server refused, not a superuser)"
            print(
                f"        WAL: {written / 2**20:.0f} MB, {per_claim_kib:.1f} KiB per settled claim{ahead}{refused}",
                flush=True,
            )
            disk = result["disk"]
            if disk is not None:
                print(
                    f"        disk: fdatasync p50 {disk['p50']:.2f} ms, p99 {disk['p99']:.1f} ms, "
                    f"max {disk['max']:.0f} ms; "
                    f"{disk['slow']} syncs over {SLOW_MS:.0f} ms took {disk['slow_share']:.1%} of the run; "
                    f"requests over {SLOW_MS:.0f} ms: {disk['slow_requests']}, "
                    f"{disk['slow_requests_in_stall']} of them in flight during such a sync",
                    flush=True,
                )
        print(f"server: uvicorn, {args.workers} worker(s); cores: {os.cpu_count()}; load generator on the same machine")
        if probe_folder is None and not args.no_disk_probe:
            print("disk probe: not run (the database's data directory is not on this machine, or not writable here)")
    finally:
        if args.synchronous_commit != "on":
            set_synchronous_commit(args.admin_url, args.database, "on")
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if not (args.keep or args.reuse):
            drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    import uvloop

    uvloop.install()
    main()
