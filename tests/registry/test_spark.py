"""The Splink model on Spark (local mode): the model trained on DuckDB predicts the same pairs.

Needs Java 17 (``java`` on PATH) and pyspark; about 20-40 s, most of it starting the JVM.
"""

from __future__ import annotations

import os
import shutil

import pytest

from equicover.registry.dedupe import find_duplicates
from equicover.synth.dedupe_pairs import as_splink_frame, pair_scores, synthetic_registry

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.0 calls a pandas option that pandas 3 deprecates; not ours to fix.
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        if os.environ.get("EQUICOVER_SKIP_SPARK") == "1" and os.environ.get("CI", "").lower() != "true":
            pytest.skip("!!! Spark test SKIPPED: no java on PATH and EQUICOVER_SKIP_SPARK=1 !!!")
        pytest.fail("The Spark test needs Java 17 on PATH (apt-get install openjdk-17-jre-headless).", pytrace=False)
    from equicover.registry.spark import local_spark

    session = local_spark(cores=2, driver_memory="1g")
    yield session
    session.stop()


def test_the_duckdb_model_runs_unchanged_on_spark(spark) -> None:
    registry = synthetic_registry(600, seed=5, pool_size=200)
    frame = as_splink_frame(registry)
    on_duckdb = find_duplicates(frame, threshold=0.5, cluster_threshold=0.99)
    on_spark = find_duplicates(
        frame, threshold=0.5, cluster_threshold=0.99, backend="spark", spark=spark, model=on_duckdb.model
    )

    def pairs(result):
        return {
            (int(left), int(right)): p
            for left, right, p in zip(
                result.pairs["unique_id_l"], result.pairs["unique_id_r"], result.pairs["match_probability"]
            )
        }

    duck, sparked = pairs(on_duckdb), pairs(on_spark)
    assert set(sparked) == set(duck)
    assert all(abs(sparked[key] - duck[key]) < 1e-6 for key in duck)
    assert pair_scores(set(sparked), registry.true_pairs)[2] >= 0.9
    # Clusters agree too (named after their smallest member on both backends).
    clusters = lambda result: set(zip(result.pairs["unique_id_l"], result.pairs["cluster_id"].fillna(-1)))  # noqa: E731
    assert clusters(on_spark) == clusters(on_duckdb)
