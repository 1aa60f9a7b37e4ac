"""Deduplication benchmark: a synthetic registry with injected duplicates, Splink on DuckDB.

    .venv/bin/python bench/dedupe_bench.py --people 1000000

Prints precision, recall and F1 of the found pairs (against the injected ones) at several match
probability thresholds, the minutes taken (generation apart from deduplication) and the peak
resident memory. Targets: F1 >= 0.95, <= 5 minutes, <= 8 GB for 1M people on 2 cores.
The duplicates carry typos, transliteration variants, swapped name order and missing birth days
(see equicover/synth/dedupe_pairs.py).
"""

from __future__ import annotations

import argparse
import resource
import time

from equicover.registry.dedupe import find_duplicates
from equicover.synth.dedupe_pairs import as_splink_frame, pair_scores, synthetic_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of records that are duplicates")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=0.9, help="match probability that counts as found")
    parser.add_argument("--u-pairs", type=float, default=2e6, help="pairs sampled to estimate u")
    args = parser.parse_args()

    started = time.perf_counter()
    registry = synthetic_registry(args.people, duplicate_share=args.duplicates, seed=args.seed)
    frame = as_splink_frame(registry)
    generated = time.perf_counter()
    print(
        f"generated {len(frame):,} records ({len(registry.true_pairs):,} duplicates) "
        f"in {(generated - started) / 60:.2f} min"
    )

    def progress(message: str) -> None:
        print(f"  [{(time.perf_counter() - generated) / 60:5.2f} min] {message}", flush=True)

    result = find_duplicates(
        frame, threshold=0.5, cluster_threshold=0.99, u_pairs=args.u_pairs, progress=progress, train_model=True
    )
    finished = time.perf_counter()
    pairs = result.pairs
    print(f"dedupe (train + predict + cluster): {(finished - generated) / 60:.2f} min, {len(pairs):,} pairs >= 0.5")
    for threshold in sorted({0.5, 0.8, args.threshold, 0.95, 0.99}):
        chosen = pairs[pairs["match_probability"] >= threshold]
        found = set(zip(chosen["unique_id_l"].tolist(), chosen["unique_id_r"].tolist()))
        precision, recall, f1 = pair_scores(found, registry.true_pairs)
        marker = "  <-" if threshold == args.threshold else ""
        print(
            f"  p >= {threshold:.2f}: precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  "
            f"({len(found):,} pairs){marker}"
        )
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak RSS {peak_gib:.2f} GiB; total {(finished - started) / 60:.2f} min")


if __name__ == "__main__":
    main()
