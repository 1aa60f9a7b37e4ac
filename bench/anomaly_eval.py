"""Evaluate claim anomaly detection on synthetic claims with injected fraud; time it.

    .venv/bin/python bench/anomaly_eval.py                      # ~1,000,000 claims (280,000 people)
    .venv/bin/python bench/anomaly_eval.py --people 30000       # quick run

Steps: the synthetic province's year of claims (``equicover.synth``, no database) -> inject
fraud -> ``equicover.anomaly.detect.detect`` -> precision and recall at the top-k flags.

Injected patterns (each an *incident*; a seeded generator, so runs are repeatable):

- **upcoding**: an existing claim billed at 3-6 times its amount;
- **phantom patients**: claims for members who died earlier in the year (death date set to
  their last genuine claim) or for member ids that are not enrolled at all;
- **split admissions**: an in-patient stay of 4+ days billed as two stays, the second starting
  on the first's discharge day at the same provider for the same diagnosis.

Precision@k: share of the k highest-scored claims that belong to an incident. Recall@k per
pattern: share of its incidents with at least one claim in the top k. Both are also printed
without the phantom patients, whose hard evidence (death, no cover) fills the top by itself:
that shows what the statistical part finds on its own. The billed total stands for the
allowed amount (the file is not settled here).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from equicover.anomaly.detect import detect
from equicover.synth.service import generate


def load_claims(path: Path) -> pa.Table:
    con = duckdb.connect()
    try:
        return con.execute(f"""
            SELECT row_number() OVER () AS claim_pk, CAST(member_id AS BIGINT) AS member,
                   CAST(dense_rank() OVER (ORDER BY provider_id) AS BIGINT) AS provider,
                   provider_level, care_type, diagnosis,
                   CAST(service_date AS DATE) AS service_date, CAST(days AS BIGINT) AS days,
                   CAST(CAST(total AS DECIMAL(18, 2)) * 100 AS BIGINT) AS allowed
            FROM read_csv('{path}', header = true, all_varchar = true)
        """).to_arrow_table()
    finally:
        con.close()


def inject(claims: pa.Table, *, upcoding: int, phantoms: int, splits: int, seed: int):
    rng = np.random.default_rng(seed)
    columns = {name: claims.column(name).to_numpy(zero_copy_only=False).copy() for name in claims.column_names}
    n = claims.num_rows
    incident = np.full(n, -1, dtype=np.int64)
    pattern_of: list[str] = []
    # Upcoding: inflate existing claims.
    for index in rng.choice(n, size=upcoding, replace=False):
        columns["allowed"][index] = int(columns["allowed"][index] * rng.uniform(3, 6))
        incident[index] = len(pattern_of)
        pattern_of.append("upcoding")
    extra: dict[str, list] = {name: [] for name in columns}
    extra_incident: list[int] = []
    next_pk = int(columns["claim_pk"].max()) + 1
    members = np.unique(columns["member"])
    last_claim = {}
    order = np.argsort(columns["service_date"])
    for member, day in zip(columns["member"][order], columns["service_date"][order]):
        last_claim[member] = day
    deaths: dict[int, np.datetime64] = {}
    unknown_member = int(members.max()) + 1
    for i in range(phantoms):
        template = int(rng.integers(n))
        row = {name: columns[name][template] for name in columns}
        if i % 2 == 0:  # a member who died: a claim after the death date
            member = int(rng.choice(members))
            while member in deaths or last_claim[member] >= np.datetime64("2018-12-20"):
                member = int(rng.choice(members))
            deaths[member] = last_claim[member]
            row["member"] = member
            row["service_date"] = last_claim[member] + np.timedelta64(int(rng.integers(1, 10)), "D")
        else:  # an id nobody enrolled
            row["member"] = unknown_member
            unknown_member += 1
        row["claim_pk"] = next_pk
        next_pk += 1
        for name in columns:
            extra[name].append(row[name])
        extra_incident.append(len(pattern_of))
        pattern_of.append("phantom")
    ends_in_year = columns["service_date"] + columns["days"].astype("timedelta64[D]") <= np.datetime64("2018-12-31")
    stays = np.flatnonzero(
        (columns["care_type"] == "inpatient") & (columns["days"] >= 4) & (incident < 0) & ends_in_year
    )
    for index in rng.choice(stays, size=min(splits, len(stays)), replace=False):
        total_days, amount = int(columns["days"][index]), int(columns["allowed"][index])
        first_days = int(rng.integers(1, total_days))
        columns["days"][index] = first_days
        columns["allowed"][index] = amount * first_days // total_days
        row = {name: columns[name][index] for name in columns}
        row["service_date"] = columns["service_date"][index] + np.timedelta64(first_days, "D")
        row["days"] = total_days - first_days
        row["allowed"] = amount - int(columns["allowed"][index])
        row["claim_pk"] = next_pk
        next_pk += 1
        incident[index] = len(pattern_of)
        for name in columns:
            extra[name].append(row[name])
        extra_incident.append(len(pattern_of))
        pattern_of.append("split")
    table = pa.table(
        {name: np.concatenate([columns[name], np.array(extra[name], dtype=columns[name].dtype)]) for name in columns}
    )
    table = table.set_column(
        table.schema.get_field_index("service_date"), "service_date", pc.cast(table.column("service_date"), pa.date32())
    )
    labels = np.concatenate([incident, np.array(extra_incident, dtype=np.int64)])
    persons = pa.table(
        {
            "member": pa.array(list(deaths), pa.int64()),
            "death_date": pa.array([d.astype("datetime64[D]").astype(object) for d in deaths.values()], pa.date32()),
        }
    )
    import datetime as dt

    enrolments = pa.table(
        {
            "member": pa.array(members, pa.int64()),
            "starts": pa.array([dt.date(2018, 1, 1)] * len(members), pa.date32()),
            "ends": pa.array([dt.date(2018, 12, 31)] * len(members), pa.date32()),
        }
    )
    return table, labels, pattern_of, persons, enrolments


def evaluate(
    ranked_pks: np.ndarray, pk_incident: dict[int, int], pattern_of: list[str], k: int, exclude: set[str] = frozenset()
) -> dict:
    keep = [pk for pk in ranked_pks if pattern_of[pk_incident[pk]] not in exclude] if exclude else list(ranked_pks)
    kept_incidents = [i for i, p in enumerate(pattern_of) if p not in exclude]
    top = keep[:k]
    hits = [pk_incident[pk] for pk in top if pk_incident[pk] >= 0]
    recall = {}
    for pattern in sorted(set(pattern_of) - set(exclude)):
        wanted = {i for i in kept_incidents if pattern_of[i] == pattern}
        recall[pattern] = len(wanted & set(hits)) / len(wanted) if wanted else None
    return {"precision": len(hits) / max(len(top), 1), "recall": recall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=280_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--upcoding", type=int, default=300)
    parser.add_argument("--phantoms", type=int, default=150)
    parser.add_argument("--splits", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claims.csv"
        started = time.perf_counter()
        generate(people=args.people, seed=args.seed, year=2018, session=None, claims_path=path)
        claims = load_claims(path)
        print(f"generated {claims.num_rows:,} claims in {time.perf_counter() - started:.1f} s")
    table, labels, pattern_of, persons, enrolments = inject(
        claims, upcoding=args.upcoding, phantoms=args.phantoms, splits=args.splits, seed=args.seed
    )
    print(
        f"injected {len(pattern_of)} incidents ({labels[labels >= 0].size} claims): "
        f"{args.upcoding} upcoding, {args.phantoms} phantom patients, {args.splits} split admissions"
    )
    started = time.perf_counter()
    result = detect(table, persons, enrolments, seed=args.seed)
    elapsed = time.perf_counter() - started
    pk_incident = dict(zip(table.column("claim_pk").to_pylist(), labels.tolist()))
    ranked = np.asarray(result.flags.column("claim_pk").to_pylist())
    print(
        f"detection over {result.claims:,} claims: {elapsed:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in result.seconds.items())}); {result.flags.num_rows:,} claims flagged"
    )
    for k in (100, 500, len(pattern_of), 5_000):
        scores = evaluate(ranked, pk_incident, pattern_of, k)
        recall = ", ".join(f"{p} {r:.2f}" for p, r in scores["recall"].items())
        print(f"top {k:>5}: precision {scores['precision']:.3f}; recall by pattern: {recall}")
    non_phantom = args.upcoding + args.splits
    for k in (100, non_phantom):
        scores = evaluate(ranked, pk_incident, pattern_of, k, exclude={"phantom"})
        recall = ", ".join(f"{p} {r:.2f}" for p, r in scores["recall"].items())
        print(f"without phantoms, top {k:>5}: precision {scores['precision']:.3f}; recall: {recall}")
    top = result.flags.slice(0, 5).to_pylist()
    for row in top:
        print(f"  claim {row['claim_pk']}: score {row['score']:.1f} [{row['rules']}] {row['reason']}")


if __name__ == "__main__":
    main()
