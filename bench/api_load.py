"""Load test of the HTTP service: real-time claim submissions over loopback against PostgreSQL.

    .venv/bin/python bench/api_load.py                      # 100 and 500 requests/s, 20 s each
    .venv/bin/python bench/api_load.py --rates 100,300,500 --duration 20 --workers 2

What it does:
1. creates a fresh PostgreSQL database (``--admin-url``, default the local server), migrates it,
   generates a synthetic province into it (``equicover generate``, ``--people``) with its year of
   claims as a CSV, stores the cn-yaan-2018 policy for the province's scheme and makes an admin
   token;
2. starts ``equicover serve`` (uvicorn, ``--workers`` processes) on 127.0.0.1 in a subprocess;
3. for each rate, an open-loop generator (asyncio + httpx) sends the province's claims as
   ``POST /api/v1/claims`` at that fixed rate for ``--duration`` seconds, whatever the answers'
   speed (no coordinated omission: latency counts from the moment a request was *due*);
   At most MAX_OUTSTANDING requests are in flight; a request due while that many are waiting is
   not sent and counts as an error (status -1), so an overloaded run stays bounded;
4. prints, per rate: requests due, settled (201), errors, achieved throughput (settled per
   second of the run), p50 / p99 / max latency in milliseconds.

The load generator runs on the same cores as the server and the database: on a 2-core machine it
takes a share of the CPU the service would otherwise have. The database is dropped at the end
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from equicover.auth.service import create_user, issue_token  # noqa: E402
from equicover.claims.service import store_policy_version  # noqa: E402
from equicover.db.engine import make_engine  # noqa: E402
from equicover.db.migrate import upgrade  # noqa: E402
from equicover.db.session import make_session_factory, session_scope  # noqa: E402
from equicover.enrolment.models import Scheme  # noqa: E402
from equicover.settlement.claims import parse_amount  # noqa: E402

EQUICOVER = str(Path(sys.executable).parent / "equicover")
POLICY = ROOT / "policies" / "cn-yaan-2018.toml"
MAX_OUTSTANDING = 400  # requests in flight from the generator at most; beyond that a due request is counted as failed


def _admin_engine(admin_url: str):  # type: ignore[no-untyped-def]
    url = make_url(admin_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def fresh_database(admin_url: str, name: str) -> str:
    engine = _admin_engine(admin_url)
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = make_url(admin_url).set(database=name)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    engine = _admin_engine(admin_url)
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def prepare(url: str, people: int, workdir: Path) -> tuple[str, list[dict[str, object]]]:
    upgrade(url)
    claims_csv = workdir / "claims.csv"
    subprocess.run(
        [EQUICOVER, "generate", "--people", str(people), "--seed", "11", "--database-url", url, "--claims", str(claims_csv)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        scheme = session.query(Scheme).order_by(Scheme.id).first()
        assert scheme is not None, "the generator made no scheme"
        store_policy_version(session=session, source_text=POLICY.read_text(encoding="utf-8"), scheme_code=scheme.code, actor="bench")
        admin = create_user(session=session, username="bench-admin", password="bench-password", role="admin")
        token = issue_token(session=session, user=admin)
    engine.dispose()
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
    return token, bodies


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


async def run_rate(base: str, token: str, bodies: list[dict[str, object]], rate: int, duration: float, tag: str) -> dict[str, float]:
    count = int(rate * duration)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    outstanding = 0
    skipped = 0
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

        async def one(index: int, due: float) -> None:
            nonlocal outstanding
            body = dict(bodies[index % len(bodies)])
            body["claim_id"] = f"{body['claim_id']}-{tag}-{index}"
            try:
                response = await client.post("/api/v1/claims", json=body)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            latencies.append(time.perf_counter() - due)
            statuses[status] = statuses.get(status, 0) + 1
            outstanding -= 1

        start = time.perf_counter()
        tasks = []
        for index in range(count):
            due = start + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if outstanding >= MAX_OUTSTANDING:
                skipped += 1  # the server is this far behind: count the request as failed, do not pile up sockets
                continue
            outstanding += 1
            tasks.append(asyncio.create_task(one(index, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ordered = sorted(latencies) or [float("nan")]
    settled = statuses.get(201, 0)
    if skipped:
        statuses[-1] = skipped  # -1: not sent, MAX_OUTSTANDING requests were already waiting
    return {
        "rate": rate,
        "sent": count,
        "settled": settled,
        "errors": count - settled,
        "statuses": statuses,  # type: ignore[dict-item]
        "throughput": settled / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "max": ordered[-1] * 1000,
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=os.environ.get("EQUICOVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--database", default="equicover_api_bench")
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    rates = [int(part) for part in args.rates.split(",") if part.strip()]

    if args.port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    url = fresh_database(args.admin_url, args.database)
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="equicover-api-bench-") as workdir:
            started = time.perf_counter()
            token, bodies = prepare(url, args.people, Path(workdir))
            print(f"prepared {args.people:,} persons and {len(bodies):,} claims in {time.perf_counter() - started:.1f} s", flush=True)
        log = Path(tempfile.gettempdir()) / "equicover-api-bench-server.log"
        server = start_server(url, args.port, args.workers, log)
        print(f"server log: {log}")
        base = f"http://127.0.0.1:{args.port}"
        asyncio.run(run_rate(base, token, bodies, 50, 4, "warmup"))
        print(f"{'rate/s':>7} {'sent':>7} {'settled':>8} {'errors':>7} {'settled/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for rate in rates:
            result = asyncio.run(run_rate(base, token, bodies, rate, args.duration, f"r{rate}"))
            print(
                f"{result['rate']:>7} {result['sent']:>7} {result['settled']:>8} {result['errors']:>7} "
                f"{result['throughput']:>10.1f} {result['p50']:>8.1f} {result['p99']:>8.1f} {result['max']:>8.1f}",
                flush=True,
            )
            if result["errors"]:
                print(f"        statuses: {result['statuses']}")
        print(f"server: uvicorn, {args.workers} worker(s); cores: {os.cpu_count()}; load generator on the same machine")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if not args.keep:
            drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    main()
