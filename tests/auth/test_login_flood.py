"""A flood of wrong sign-ins does not starve the other endpoints: password hashing runs on a
bounded pool (one or two hashes at once, a few waiting, the rest refused 503 at once).

A real service (uvicorn in its own process, the production argon2id parameters) on 127.0.0.1;
40 attackers, each from its own loopback address (so that per-address throttling does not stop
them before the pool is tested) and each sending wrong sign-ins back to back, at most 100; meanwhile
a signed-in user calls ``GET /api/v1/auth/me`` 60 times, 50 ms apart, and its p95 must stay under
100 ms. The flood is bounded in count and time and only ever reaches loopback addresses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from equicover.admin.service import create_user
from equicover.auth.service import issue_token
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory
from tests.api_helpers import TEST_PASSWORD

ATTACKERS = 40
ATTEMPTS_EACH = 100
FLOOD_SECONDS = 8.0
PROBES = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(empty_db_url: str) -> Iterator[tuple[str, str]]:
    """A service on its own migrated database; yields its base URL and a valid bearer token."""
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    with make_session_factory(engine)() as session:
        user = create_user(session=session, username="on-duty", password=TEST_PASSWORD, role="admin")
        token = issue_token(session=session, user=user)
        session.commit()
    engine.dispose()
    port = _free_port()
    environment = {**os.environ, "EQUICOVER_DATABASE_URL": empty_db_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "equicover.api.server:app", "--host", "127.0.0.1", "--port", str(port)]
        + ["--no-access-log", "--log-level", "warning"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the service did not start"
            time.sleep(0.2)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # sign-ins still queued for the hashing pool: no need to finish them
            server.kill()
            server.wait(timeout=10)


def _attacker(base: str, number: int, stop: threading.Event, statuses: Counter[int], lock: threading.Lock) -> None:
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + number}")
    with httpx.Client(transport=transport, timeout=30) as client:
        for attempt in range(ATTEMPTS_EACH):
            if stop.is_set():
                return
            answer = client.post(
                f"{base}/api/v1/auth/token",
                json={"username": f"guess-{number}-{attempt}", "password": "wrong password"},
            )
            with lock:
                statuses[answer.status_code] += 1


def _p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[int(0.95 * (len(ordered) - 1))]


def test_a_flood_of_wrong_sign_ins_keeps_other_endpoints_fast(served: tuple[str, str]) -> None:
    base, token = served
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30) as probe:
        quiet = []
        for _ in range(20):
            started = time.perf_counter()
            assert probe.get(f"{base}/api/v1/auth/me", headers=headers).status_code == 200
            quiet.append(time.perf_counter() - started)
        stop, lock, statuses = threading.Event(), threading.Lock(), Counter[int]()
        attackers = [
            threading.Thread(target=_attacker, args=(base, number, stop, statuses, lock), daemon=True)
            for number in range(ATTACKERS)
        ]
        for thread in attackers:
            thread.start()
        time.sleep(0.5)  # the flood is under way
        latencies = []
        flood_ends = time.monotonic() + FLOOD_SECONDS
        for _ in range(PROBES):
            started = time.perf_counter()
            answer = probe.get(f"{base}/api/v1/auth/me", headers=headers)
            latencies.append(time.perf_counter() - started)
            assert answer.status_code == 200
            if time.monotonic() > flood_ends:
                break
            time.sleep(0.05)
        busy = sum(thread.is_alive() for thread in attackers)
        stop.set()
        for thread in attackers:
            thread.join(timeout=60)
    p95 = _p95(latencies)
    print(
        f"\n/auth/me quiet p95 {_p95(quiet) * 1000:.1f} ms; during the flood ({busy} of {ATTACKERS} attackers "
        f"still sending) p50 {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} calls; sign-in answers {dict(statuses)}"
    )
    assert busy > 0, "the flood ended before the measurement: it measured nothing"
    assert statuses[401] > 0 and set(statuses) <= {401, 429, 503}
    assert p95 < 0.100
