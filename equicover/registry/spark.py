"""A local Spark session for the Splink model (tests, a single large machine).

On a cluster, build the session with your cluster's master and resources instead and pass it to
:func:`equicover.registry.dedupe.find_duplicates` (``backend="spark"``); see
docs/registry-quality.md.
"""

from __future__ import annotations

import tempfile
from typing import Any


def local_spark(*, cores: int = 2, driver_memory: str = "2g") -> Any:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("equicover-dedupe")
        # Few partitions: Splink runs many small queries and Spark's default of 200 shuffle
        # partitions makes each one slow on a small machine.
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.default.parallelism", str(cores))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="equicover-spark-"))
    return session
