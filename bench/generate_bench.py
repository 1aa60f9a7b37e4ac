"""Generate a synthetic province of N people (default 1,000,000) into a fresh database and a year of
claims into a temporary file; print people/s, claims/s, seconds per phase and peak memory.
Prints figures; asserts nothing. Target: 1M people in under 2 minutes on 2 cores.

    .venv/bin/python bench/generate_bench.py [--people 1000000] [--seed 1] [--url URL] [--no-db] [--parquet]

Without --url a fresh SQLite file in a temporary directory is used (removed afterwards).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.synth.service import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--url", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--no-db", action="store_true", help="generate and write claims only")
    parser.add_argument("--parquet", action="store_true", help="write claims as Parquet instead of CSV")
    arguments = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="equicover-generate-bench-"))
    claims_path = workdir / ("claims.parquet" if arguments.parquet else "claims.csv")
    url = None if arguments.no_db else (arguments.url or f"sqlite:///{workdir / 'bench.db'}")
    try:
        started = time.perf_counter()
        if url is None:
            summary = generate(people=arguments.people, seed=arguments.seed, claims_path=claims_path)
        else:
            upgrade(url)
            migrated = time.perf_counter()
            engine = make_engine(url)
            try:
                with session_scope(make_session_factory(engine)) as session:
                    summary = generate(
                        people=arguments.people, seed=arguments.seed, session=session, claims_path=claims_path
                    )
                    committing = time.perf_counter()
                summary.seconds["commit"] = time.perf_counter() - committing
            finally:
                engine.dispose()
            summary.seconds["migrate"] = migrated - started
        elapsed = time.perf_counter() - started
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"database          {url or '(none)'}")
        print(f"people            {summary.people:,}")
        print(f"households        {summary.households:,}")
        print(f"enrolments        {summary.enrolments:,} ({summary.coverage:.1%})")
        print(f"contributions     {summary.contributions:,}")
        print(f"category holdings {summary.category_holdings:,}")
        print(
            f"claims            {summary.claims:,} -> {claims_path.name} ({claims_path.stat().st_size / 1e6:,.0f} MB)"
        )
        print(f"total             {elapsed:.1f} s")
        print(f"people/s          {summary.people / elapsed:,.0f}")
        print(f"claims/s          {summary.claims / elapsed:,.0f}")
        # The claims phases run on a second thread, overlapping the database load.
        for name, seconds in summary.seconds.items():
            print(f"  {name:<16}{seconds:8.1f} s")
        print(f"peak RSS          {peak_rss_mb:,.0f} MB")
        print(
            f"target            {'met' if elapsed < 120 else 'MISSED'} (1M people < 120 s on 2 cores)"
            if summary.people >= 1_000_000
            else "target            (applies to 1,000,000 people)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
