"""What-if speed: one year of claims under two policies against settling it once; a 5-year projection.

    .venv/bin/python bench/simulate_bench.py --claims 10000000
    .venv/bin/python bench/simulate_bench.py --claims 1000000      # on a busy machine
    .venv/bin/python bench/simulate_bench.py --steps project       # only the 5-year projection

Synthetic claims (bench/synthetic_claims.py) are written once as Parquet, then, each step in a
fresh process so that one does not warm the other's caches:
- settle once: ``settle_file`` with bench/one_stop_policy.toml (output and errors files written);
- simulate: ``simulation.engine.simulate`` of the same file under that policy and a variant with
  the tilt ceiling at 15% (one read of the claims, both policies settled, every figure of the
  report computed); the target is at most 2.5 times settling once;
- project: the base year settled and summed per member once, then five years projected with 200
  bootstrap draws (``simulation.projection``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY_PATH = HERE / "one_stop_policy.toml"
sys.path.insert(0, str(HERE))

PROJECTION = """[projection]
id = "bench"
name = "Benchmark projection"
policy = "{policy}"
base_year = 2018
claims_population = {population}
source = "benchmark: assumptions only"

[bootstrap]
draws = 200
seed = 1

[[area]]
id = "province"
people = {population}
growth = 0.004

[[group]]
name = "poor"
categories = ["registered_poor"]
population_share = 0.7
enrolled = {{ 2018 = 1.0 }}

[[group]]
name = "near-poor"
categories = ["near_poor"]
population_share = 0.15
enrolled = {{ 2018 = 0.9, 2021 = 1.0 }}

[[group]]
name = "others"
categories = []
population_share = 0.15
enrolled = {{ 2018 = 0.9 }}

[[care_type]]
name = "inpatient"
utilisation_growth = 0.03
cost_growth = 0.04

[[fund]]
name = "Insurance"
layers = ["basic", "critical", "food", "transport"]
contributions = true

[[fund]]
name = "Budgets"
layers = ["tilt", "assistance", "emergency"]
"""


def job_settle(claims: str, out: str) -> dict:
    from equicover.settlement.batch_engine import settle_file
    from equicover.settlement.loader import load_policy

    policy = load_policy(POLICY_PATH)
    started = time.perf_counter()
    report = settle_file(policy, claims, out, errors_path=Path(out).with_suffix(".errors.csv"))
    return {"seconds": time.perf_counter() - started, "settled": report.settled}


def job_simulate(claims: str, variant: str) -> dict:
    from equicover.settlement.loader import load_policy
    from equicover.simulation.engine import simulate

    policies = [load_policy(POLICY_PATH), load_policy(variant)]
    started = time.perf_counter()
    result = simulate(policies, Path(claims))
    seconds = time.perf_counter() - started
    first, second = result.figures
    return {
        "seconds": seconds,
        "settled": first.settled,
        "tilt": [first.paid["tilt"], second.paid["tilt"]],
        "member_oop": [first.member_oop, second.member_oop],
    }


def job_project(claims: str, projection: str) -> dict:
    from equicover.simulation.engine import member_sums
    from equicover.simulation.projection import load_projection, parse_years, project

    started = time.perf_counter()
    loaded = load_projection(projection)
    sums = member_sums(loaded.policy, Path(claims), [group.categories for group in loaded.groups])
    settled = time.perf_counter()
    result = project(loaded, sums, parse_years("2019-2023", loaded.base_year))
    done = time.perf_counter()
    return {"seconds": done - started, "base_year": settled - started, "projection": done - settled,
            "units": int(sums.unit.max()) + 1, "years": len(result.years)}  # fmt: skip


def _child(job: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--job", job, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the {job} step failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000_000, help="claims in the year (default 10 M)")
    parser.add_argument("--workdir", help="where to write the files (default: a temporary directory)")
    parser.add_argument("--steps", default="settle,simulate,project", help="which steps (default: all three)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.job:
        jobs = {"settle": job_settle, "simulate": job_simulate, "project": job_project}
        print(json.dumps(jobs[options.job](*options.args)))
        return

    from synthetic_claims import write_claims

    cores = len(os.sched_getaffinity(0))
    print(f"equicover what-if bench: {options.claims:,} claims, {cores} cores, load {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="equicover-simulate-bench-", dir=options.workdir) as work:
        folder = Path(work)
        claims = folder / "claims.parquet"
        started = time.perf_counter()
        write_claims(claims, options.claims)
        print(f"claims written in {time.perf_counter() - started:.1f} s")
        variant = folder / "tilt_15.toml"
        text = POLICY_PATH.read_text(encoding="utf-8")
        variant.write_text(text.replace('id = "bench-one-stop"', 'id = "bench-tilt-15"').replace(
            "max_share = 0.10", "max_share = 0.15"), encoding="utf-8")  # fmt: skip
        projection = folder / "projection.toml"
        projection.write_text(
            PROJECTION.format(policy=POLICY_PATH.as_posix(), population=options.claims), encoding="utf-8"
        )
        steps = set(options.steps.split(","))
        once = _child("settle", str(claims), str(folder / "settled.parquet")) if "settle" in steps else None
        both = _child("simulate", str(claims), str(variant)) if "simulate" in steps else None
        ahead = _child("project", str(claims), str(projection)) if "project" in steps else None
    if once is not None:
        print(f"settle once (1 policy, output written):  {once['seconds']:8.1f} s  ({once['settled']:,} claims)")
    if once is not None and both is not None:
        ratio = both["seconds"] / once["seconds"]
        print(f"simulate (2 policies, every figure):     {both['seconds']:8.1f} s  = {ratio:.2f} x settling once "
              f"(target <= 2.5 x: {'met' if ratio <= 2.5 else 'NOT met'})")  # fmt: skip
        tilt_before, tilt_after = both["tilt"]
        print(f"  tilt ceiling 10% -> 15%: tilt payments {tilt_before / 100:,.2f} -> {tilt_after / 100:,.2f}")
    if ahead is None:
        return
    print(f"project 5 years (base year settled once + 200 draws): {ahead['seconds']:.1f} s "
          f"(base year {ahead['base_year']:.1f} s, projection {ahead['projection']:.1f} s, "
          f"{ahead['units']:,} member cells)")  # fmt: skip


if __name__ == "__main__":
    main()
