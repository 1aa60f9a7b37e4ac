"""Settlement speed: the batch engine on millions of claims, the real-time engine per claim.

    .venv/bin/python bench/settle_bench.py --claims 1000000,10000000

For each size, synthetic claims (bench/synthetic_claims.py, ~0.05% bad rows) are written to a
temporary directory, then, each in a fresh process so that peak memory is its own:
- the DuckDB floor: DuckDB merely reading the file, sorting it by (member, date, claim) and writing
  it back in the same format, with the engine's settings (threads, memory limit, spill directory);
- the batch engine: ``settle_file`` with bench/one_stop_policy.toml (5 layers modelled on Ya'an's
  one-stop settlement), errors file included.
Then the real-time engine: median and p99 latency of settling one claim with accumulators in
memory, and the per-claim cost of a naive loop that reads and writes the accumulators through a
SQLAlchemy ORM session on a SQLite file for every claim, as a ratio to the batch engine's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import BigInteger, Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

HERE = Path(__file__).resolve().parent
POLICY_PATH = HERE / "one_stop_policy.toml"
sys.path.insert(0, str(HERE))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------------
# Jobs run in a child process


def job_floor(claims: str, out: str) -> dict:
    from equicover.settlement.batch_engine import connect

    path = Path(claims)
    source = (
        f"read_parquet('{path}')"
        if path.suffix == ".parquet"
        else f"read_csv('{path}', all_varchar = true, header = true)"
    )
    options = "(FORMAT parquet, COMPRESSION zstd)" if path.suffix == ".parquet" else "(FORMAT csv, HEADER true)"
    with tempfile.TemporaryDirectory(prefix="equicover-floor-") as spill:
        connection = connect(spill)
        started, cpu = time.perf_counter(), time.process_time()
        connection.execute(
            f"COPY (SELECT * FROM {source} ORDER BY member_id, service_date, claim_id) TO '{out}' {options}"
        ).fetchall()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        connection.close()
    return {"seconds": seconds, "cpu": cpu, "peak_rss_mb": _peak_rss_mb()}


def job_batch(claims: str, out: str) -> dict:
    from equicover.settlement.batch_engine import settle_file
    from equicover.settlement.loader import load_policy

    policy = load_policy(POLICY_PATH)
    phases: list[tuple[str, float]] = []
    started = time.perf_counter()

    def progress(step: str, done: int, total: int) -> None:
        phases.append((step, time.perf_counter() - started))

    cpu = time.process_time()
    report = settle_file(policy, claims, out, errors_path=str(Path(out).with_suffix(".errors.csv")), progress=progress)
    cpu = time.process_time() - cpu
    durations = {name: round(phases[i + 1][1] - at, 2) for i, (name, at) in enumerate(phases[:-1])}
    return {
        "seconds": report.seconds,
        "cpu": cpu,
        "settled": report.settled,
        "rejected": report.rejected,
        "peak_rss_mb": _peak_rss_mb(),
        "phases": durations,
    }


def _run_child(job: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, "--job", job, *args], check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# The real-time engine


class Base(DeclarativeBase):
    pass


class AccumulatorRow(Base):
    """A throwaway accumulator table for the naive loop (not equicover's schema)."""

    __tablename__ = "bench_accumulator"
    member_id: Mapped[str] = mapped_column(String, primary_key=True)
    layer_id: Mapped[str] = mapped_column(String, primary_key=True)
    benefit_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger)
    member_share: Mapped[int] = mapped_column(BigInteger)


def _first_claims(path: Path, policy, count: int) -> list:
    from equicover.settlement.claims_file import iter_claims_csv

    claims = []
    for claim, _errors in iter_claims_csv(path, policy):
        if claim is not None:
            claims.append(claim)
            if len(claims) == count:
                break
    return claims


def realtime_latency(claims: list, policy) -> dict:
    from equicover.settlement.realtime_engine import InMemoryAccumulatorStore, RealtimeEngine, settlement_order

    engine = RealtimeEngine(policy, InMemoryAccumulatorStore())
    timings = []
    clock = time.perf_counter_ns
    for claim in sorted(claims, key=settlement_order):
        started = clock()
        engine.settle(claim)
        timings.append(clock() - started)
    timings.sort()
    return {
        "claims": len(timings),
        "median_us": statistics.median(timings) / 1000,
        "p99_us": timings[int(len(timings) * 0.99) - 1] / 1000,
        "mean_us": sum(timings) / len(timings) / 1000,
    }


def naive_orm_loop(claims: list, policy, directory: Path) -> dict:
    """What per-claim systems do: read the member's accumulators through the ORM, settle, write
    them back and commit, claim after claim (a throwaway table in a SQLite file)."""
    from equicover.settlement.realtime_engine import Accumulator, RealtimeEngine, settlement_order

    engine_db = create_engine(f"sqlite:///{directory / 'accumulators.sqlite'}")
    Base.metadata.create_all(engine_db)

    class OrmStore:
        def __init__(self, session: Session) -> None:
            self.session = session

        def get(self, member_id: str, layer_id: str, benefit_year: int) -> Accumulator:
            row = self.session.execute(
                select(AccumulatorRow).where(
                    AccumulatorRow.member_id == member_id,
                    AccumulatorRow.layer_id == layer_id,
                    AccumulatorRow.benefit_year == benefit_year,
                )
            ).scalar_one_or_none()
            return Accumulator() if row is None else Accumulator(row.position, row.paid, row.member_share)

        def put(self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator) -> None:
            self.session.merge(
                AccumulatorRow(
                    member_id=member_id,
                    layer_id=layer_id,
                    benefit_year=benefit_year,
                    position=accumulator.position,
                    paid=accumulator.paid,
                    member_share=accumulator.member_share,
                )
            )

    ordered = sorted(claims, key=settlement_order)
    started = time.perf_counter()
    with Session(engine_db, expire_on_commit=True) as session:
        settle = RealtimeEngine(policy, OrmStore(session)).settle
        for claim in ordered:
            settle(claim)
            session.commit()
    seconds = time.perf_counter() - started
    engine_db.dispose()
    return {"claims": len(ordered), "seconds": seconds, "per_claim_us": seconds / len(ordered) * 1e6}


# --------------------------------------------------------------------------------------------


def _rule(widths: list[int]) -> str:
    return "  ".join("-" * w for w in widths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", default="1000000,10000000", help="comma-separated sizes")
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv"), help="claims and output files")
    parser.add_argument("--latency-claims", type=int, default=100_000)
    parser.add_argument("--orm-claims", type=int, default=5_000)
    parser.add_argument("--workdir", help="where to write the files (default: a temporary directory)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.job:
        print(json.dumps({"floor": job_floor, "batch": job_batch}[options.job](*options.args)))
        return

    from synthetic_claims import write_claims

    from equicover.settlement.loader import load_policy

    sizes = [int(size) for size in options.claims.split(",")]
    policy = load_policy(POLICY_PATH)
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    print(f"equicover settlement bench: {cores} cores, load average {load:.1f} at start, format {options.format}")

    with tempfile.TemporaryDirectory(prefix="equicover-bench-", dir=options.workdir) as work:
        folder = Path(work)
        rows = []
        for size in sizes:
            claims = folder / f"claims_{size}.{options.format}"
            started = time.perf_counter()
            write_claims(claims, size)
            print(
                f"  generated {size:,} claims in {time.perf_counter() - started:.1f}s "
                f"({claims.stat().st_size / 1e6:.0f} MB)"
            )
            floor = _run_child("floor", str(claims), str(folder / f"floor_{size}.{options.format}"))
            print(
                f"  floor    {size:>11,}: {floor['seconds']:.1f}s (cpu {floor['cpu']:.1f}s), "
                f"peak {floor['peak_rss_mb']:.0f} MB"
            )
            batch = _run_child("batch", str(claims), str(folder / f"settled_{size}.{options.format}"))
            print(
                f"  batch    {size:>11,}: {batch['seconds']:.1f}s (cpu {batch['cpu']:.1f}s), peak "
                f"{batch['peak_rss_mb']:.0f} MB, settled {batch['settled']:,}, rejected {batch['rejected']:,}"
            )
            print("           phases: " + ", ".join(f"{name} {seconds}s" for name, seconds in batch["phases"].items()))
            rows.append((size, batch, floor))
            for leftover in folder.glob(f"*_{size}.*"):
                if leftover != claims:
                    leftover.unlink()
            if size != sizes[0]:
                claims.unlink()

        # the real-time engine, on claims of the first file (CSV text is what it reads)
        first = folder / f"claims_{sizes[0]}.csv"
        write_claims(first, max(options.latency_claims, options.orm_claims) * 2)
        sample = _first_claims(first, policy, options.latency_claims)
        latency = realtime_latency(sample, policy)
        orm = naive_orm_loop(sample[: options.orm_claims], policy, folder)

    print()
    header = ["claims", "seconds", "claims/s", "peak RSS", "floor s", "x floor", "cpu s"]
    widths = [12, 8, 10, 9, 8, 7, 7]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    print(_rule(widths))
    for size, batch, floor in rows:
        values = [
            f"{size:,}",
            f"{batch['seconds']:.1f}",
            f"{size / batch['seconds']:,.0f}",
            f"{batch['peak_rss_mb'] / 1024:.2f} GB",
            f"{floor['seconds']:.1f}",
            f"{batch['seconds'] / floor['seconds']:.2f}",
            f"{batch['cpu']:.1f}",
        ]
        print("  ".join(v.rjust(w) for v, w in zip(values, widths)))
    batch_per_claim_us = rows[-1][1]["seconds"] / rows[-1][0] * 1e6
    print()
    print(
        f"real-time, accumulators in memory ({latency['claims']:,} claims): median {latency['median_us']:.1f} us, "
        f"p99 {latency['p99_us']:.1f} us, mean {latency['mean_us']:.1f} us"
    )
    print(
        f"naive ORM loop (SQLite, commit per claim, {orm['claims']:,} claims): {orm['per_claim_us']:.0f} us per claim "
        f"= {orm['per_claim_us'] / batch_per_claim_us:,.0f} x the batch engine's {batch_per_claim_us:.2f} us per claim "
        f"(at {rows[-1][0]:,})"
    )


if __name__ == "__main__":
    main()
