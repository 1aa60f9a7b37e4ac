"""How long a durable write takes on a disk: the wait every committed claim pays.

    .venv/bin/python bench/disk_probe.py --seconds 60 /var/lib/postgresql   # a folder on the database's disk

Writes 8 KiB at a time into a scratch file in FOLDER (overwriting the same 1 MiB, as PostgreSQL
overwrites its preallocated WAL segments) and times each ``fdatasync`` — what a commit waits for
when PostgreSQL runs with ``synchronous_commit = on`` (``wal_sync_method = fdatasync``, the default
on Linux). Prints the distribution and every sync slower than 50 ms. The file is removed at the
end.

A claim's p99 cannot be below the disk's: on a disk whose syncs stall for hundreds of
milliseconds a few times a minute, every claim committed during a stall waits for it.
``bench/api_load.py`` runs this probe beside each load run and counts the slow requests that were
in flight during a slow sync.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

BLOCK = 8192
BLOCKS = 128
SLOW_MS = 50.0


def probe(folder: str, seconds: float, interval: float) -> list[tuple[float, float]]:
    """(start on the monotonic clock, duration in seconds) of each fdatasync, for ``seconds``."""
    handle, path = tempfile.mkstemp(prefix=".equicover-disk-probe-", dir=folder)
    samples: list[tuple[float, float]] = []
    block = os.urandom(BLOCK)
    try:
        for index in range(BLOCKS):  # allocate first: a sync then flushes data, not file-system metadata
            os.pwrite(handle, block, index * BLOCK)
        os.fsync(handle)
        end = time.monotonic() + seconds
        index = 0
        while time.monotonic() < end:
            os.pwrite(handle, block, (index % BLOCKS) * BLOCK)
            index += 1
            started = time.monotonic()
            os.fdatasync(handle)
            samples.append((started, time.monotonic() - started))
            time.sleep(interval)
    finally:
        os.close(handle)
        os.unlink(path)
    return samples


def summary(samples: list[tuple[float, float]], elapsed: float) -> dict[str, float]:
    """p50 / p99 / max sync in ms, how many took over 50 ms and the share of ``elapsed`` they took."""
    durations = sorted(duration for _, duration in samples) or [float("nan")]
    slow = [duration for duration in durations if duration * 1000 >= SLOW_MS]
    return {
        "syncs": len(samples),
        "p50": durations[len(durations) // 2] * 1000,
        "p99": durations[min(len(durations) - 1, int(len(durations) * 0.99))] * 1000,
        "max": durations[-1] * 1000,
        "slow": len(slow),
        "slow_share": sum(slow) / elapsed if elapsed > 0 else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a writable folder on the disk to measure (the database's)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=0.02, help="pause between syncs, seconds (default 0.02)")
    parser.add_argument("--json", action="store_true", help="print the samples as JSON (used by api_load.py)")
    args = parser.parse_args()
    if not os.path.isdir(args.folder) or not os.access(args.folder, os.W_OK):
        raise SystemExit(f"{args.folder}: not a writable folder")
    samples = probe(args.folder, args.seconds, args.interval)
    if args.json:
        json.dump(samples, sys.stdout)
        return
    figures = summary(samples, args.seconds)
    print(
        f"{figures['syncs']} syncs of {BLOCK} bytes in {args.seconds:.0f} s: p50 {figures['p50']:.2f} ms, "
        f"p99 {figures['p99']:.2f} ms, max {figures['max']:.1f} ms; {figures['slow']} over {SLOW_MS:.0f} ms, "
        f"taking {figures['slow_share']:.1%} of the time"
    )
    first = samples[0][0] if samples else 0.0
    for started, duration in samples:
        if duration * 1000 >= SLOW_MS:
            print(f"  +{started - first:7.2f} s  {duration * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
