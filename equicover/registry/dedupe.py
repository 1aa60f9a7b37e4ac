"""Probabilistic deduplication of the registry with Splink (DuckDB here, Spark at national scale).

The model (Fellegi-Sunter, as Splink implements it):

- blocking (which pairs are compared at all): same area and birth year; same national-ID prefix
  and birth year; same sorted name tokens and birth year; same national ID.
- comparisons: the name (folded in its script, then romanised, then with tokens sorted for a
  swapped family/given order, then within 1 or 2 edits), the birth date (exact, same month when
  a day is missing, one typo), sex, household, national ID (exact or one typo), area.
- training is unsupervised: u probabilities by random sampling, m probabilities by EM on two
  blocking passes so that every comparison gets estimated.

Only functions that exist in both DuckDB and Spark SQL are used (Levenshtein, equality), so the
trained model (a JSON document) runs unchanged on either backend: :func:`find_duplicates` with
``backend="spark"`` predicts with a model trained on DuckDB, or trains on Spark itself.

:func:`find_duplicates` works on a data frame and touches no database (the benchmark calls it
directly); :func:`run_dedupe` is the service that reads the registry, runs it, and keeps the pairs
in ``duplicate_pairs`` (the review queue) without ever asking again about a decided pair.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.db.bulk import bulk_insert_rows
from equicover.errors import NotFound, ValidationFailed
from equicover.registry.models import Person
from equicover.registry.normalise import name_forms
from equicover.registry.quality_models import DedupeRun, DuplicatePair, PersonNameForms

DEFAULT_REVIEW_THRESHOLD = 0.5
DEFAULT_AUTO_THRESHOLD = 0.99
DECIDED = ("confirmed", "rejected", "merged")


def _quiet_splink() -> None:
    # Splink logs at INFO for every EM iteration (and sets its level when imported); the CLI
    # shows its own progress instead.
    logging.getLogger("splink").setLevel(logging.WARNING)


FRAME_COLUMNS = (
    "unique_id",
    "folded",
    "romanised",
    "name_key",
    "birth_date",
    "birth_ym",
    "birth_year",
    "sex",
    "household_id",
    "area",
    "national_id",
    "id_prefix",
)


def prepare_frame(
    *,
    ids: Any,
    full_names: Any,
    birth_dates: Any,
    sexes: Any,
    household_ids: Any,
    areas: Any,
    national_ids: Any,
    forms: dict[int, tuple[str, str, str]] | None = None,
) -> pd.DataFrame:
    """The Splink input: one row per person with the matching forms of each field.

    ``forms`` (person id -> folded, romanised, sorted key) saves recomputing stored name forms.
    Birth dates are ISO text; the ID prefix is the ID without its last three characters (blocks
    of at most a thousand consecutive IDs: a typo in the last digits still meets its twin).
    """
    frame = pd.DataFrame({"unique_id": pd.Series(ids, dtype="int64")})
    computed_forms = []
    for person_id, name in zip(frame["unique_id"].tolist(), full_names):
        stored = forms.get(person_id) if forms else None
        if stored is None:
            made = name_forms(name)
            stored = (made.folded, made.romanised, made.key)
        computed_forms.append(stored)
    frame["folded"] = [item[0] or None for item in computed_forms]
    frame["romanised"] = [item[1] or None for item in computed_forms]
    frame["name_key"] = [item[2] or None for item in computed_forms]
    birth = pd.Series(
        [value.isoformat() if hasattr(value, "isoformat") else value for value in birth_dates], dtype="object"
    )
    frame["birth_date"] = birth.values
    frame["birth_ym"] = birth.str.slice(0, 7).values
    frame["birth_year"] = birth.str.slice(0, 4).values
    frame["sex"] = pd.Series(list(sexes), dtype="object").where(lambda s: s != "unknown").values
    frame["household_id"] = pd.Series(list(household_ids), dtype="Int64").values
    frame["area"] = pd.Series(list(areas), dtype="Int64").values
    national = pd.Series(list(national_ids), dtype="object")
    national = national.where(national.notna() & (national != ""))
    frame["national_id"] = national.values
    frame["id_prefix"] = national.where(national.str.len() > 6).str.slice(0, -3).values
    return frame


def splink_settings() -> Any:
    """The Splink settings (dedupe_only) shared by the DuckDB and Spark backends."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("romanised"),
            cll.ExactMatchLevel("folded").configure(label_for_charts="same folded name"),
            cll.ExactMatchLevel("romanised").configure(label_for_charts="same romanised name"),
            cll.ExactMatchLevel("name_key").configure(label_for_charts="same names, other order"),
            cll.LevenshteinLevel("name_key", 1),
            cll.LevenshteinLevel("romanised", 2),
            cll.LevenshteinLevel("name_key", 3),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.ExactMatchLevel("birth_ym").configure(label_for_charts="same month (day missing or wrong)"),
            cll.LevenshteinLevel("birth_date", 1),
            cll.ElseLevel(),
        ],
    )
    national_id = cl.CustomComparison(
        output_column_name="national_id",
        comparison_levels=[
            cll.NullLevel("national_id"),
            cll.ExactMatchLevel("national_id"),
            cll.LevenshteinLevel("national_id", 1),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name,
            birth,
            cl.ExactMatch("sex"),
            cl.ExactMatch("household_id"),
            national_id,
            cl.ExactMatch("area"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("area", "birth_year"),
            block_on("id_prefix", "birth_year"),
            block_on("name_key", "birth_year"),
            block_on("national_id"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


MIN_ROWS_TO_TRAIN = 5_000
_DEFAULT_MODEL = Path(__file__).with_name("default_model.json")


def default_model() -> dict[str, Any]:
    """The packaged model, trained unsupervised on a synthetic registry (see the docs)."""
    return json.loads(_DEFAULT_MODEL.read_text(encoding="utf-8"))


def model_for_dialect(model: dict[str, Any], dialect: str) -> dict[str, Any]:
    """The same trained model with its SQL written for another backend (``duckdb`` or ``spark``).

    Splink keeps a trained model's SQL in the dialect it was trained on; the parameters (m and u
    probabilities, the prior) are dialect-free. sqlglot rewrites the SQL (identifier quoting
    differs: "x" is a name in DuckDB and a string in Spark).
    """
    import copy

    import sqlglot

    source = model.get("sql_dialect", "duckdb")
    if source == dialect:
        return model
    converted = copy.deepcopy(model)

    def rewrite(sql: str) -> str:
        if sql.strip().upper() == "ELSE":  # Splink's own keyword, not SQL
            return sql
        return sqlglot.transpile(sql, read=source, write=dialect)[0]

    for comparison in converted.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if "sql_condition" in level:
                level["sql_condition"] = rewrite(level["sql_condition"])
            if "sql_dialect" in level:
                level["sql_dialect"] = dialect
    for rule in converted.get("blocking_rules_to_generate_predictions", []):
        rule["blocking_rule"] = rewrite(rule["blocking_rule"])
        rule["sql_dialect"] = dialect
    converted["sql_dialect"] = dialect
    return converted


def _duckdb_api() -> Any:
    import duckdb
    from splink import DuckDBAPI

    connection = duckdb.connect()
    # Two cores on the reference machine; DuckDB spills to disk past the memory limit.
    connection.execute("SET preserve_insertion_order = false")
    return DuckDBAPI(connection=connection)


def spark_api(spark: Any) -> Any:
    from splink import SparkAPI

    # No Scala UDF jar: the model only uses Spark's built-in functions (levenshtein, =).
    return SparkAPI(
        spark_session=spark,
        register_udfs_automatically=False,
        num_partitions_on_repartition=2,
        break_lineage_method="persist",
    )


def train(linker: Any, *, u_pairs: float = 2e6, seed: int = 42) -> None:
    """Unsupervised training: the prior from deterministic rules, u by sampling, m by EM."""
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("national_id"), block_on("name_key", "birth_date")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed)
    # Pass 1 fixes the name and estimates the rest; pass 2 fixes date and area, estimates the name.
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name_key", "birth_year"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date", "area"), estimate_without_term_frequencies=True
    )


@dataclass
class DedupeResult:
    pairs: pd.DataFrame  # unique_id_l < unique_id_r, match_probability, cluster_id
    model: dict[str, Any]  # the trained Splink settings (JSON-able)


def find_duplicates(
    frame: pd.DataFrame,
    *,
    threshold: float = DEFAULT_REVIEW_THRESHOLD,
    cluster_threshold: float = DEFAULT_AUTO_THRESHOLD,
    backend: str = "duckdb",
    spark: Any = None,
    model: dict[str, Any] | None = None,
    train_model: bool | None = None,
    u_pairs: float = 2e6,
    progress: Callable[[str], None] | None = None,
) -> DedupeResult:
    """Pairs of ``frame`` rows with a match probability >= ``threshold``, with their cluster
    (connected components at ``cluster_threshold``; the cluster id is its smallest person id,
    ``None`` for a pair below that threshold).

    ``model``: a trained model (from an earlier result) to predict with instead of training.
    Without one, the model is trained on ``frame`` if it has at least ``MIN_ROWS_TO_TRAIN``
    rows (or ``train_model`` is true); a smaller frame is scored with the packaged default
    model (trained on a 30,000-person synthetic registry), since EM needs enough duplicates.
    """
    from splink import Linker

    _quiet_splink()
    say = progress or (lambda _message: None)
    if backend == "duckdb":
        db_api = _duckdb_api()
        data: Any = frame
    elif backend == "spark":
        if spark is None:
            raise ValidationFailed("dedupe", "backend", "the spark backend needs a SparkSession")
        db_api = spark_api(spark)
        data = spark.createDataFrame(frame.astype(object).where(frame.notna(), None))
    else:
        raise ValidationFailed("dedupe", "backend", "must be duckdb or spark")
    if len(frame) < 2:
        empty = pd.DataFrame({"unique_id_l": [], "unique_id_r": [], "match_probability": [], "cluster_id": []})
        return DedupeResult(pairs=empty, model=model or {})
    if model is None and not (train_model if train_model is not None else len(frame) >= MIN_ROWS_TO_TRAIN):
        model = default_model()
    settings = model_for_dialect(model, backend) if model is not None else splink_settings()
    linker = Linker(data, settings, db_api=db_api)
    if model is None:
        say("training (u by sampling, m by EM)")
        train(linker, u_pairs=u_pairs)
    say("scoring candidate pairs")
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    pairs = predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability"]]
    swap = pairs["unique_id_l"] > pairs["unique_id_r"]
    pairs.loc[swap, ["unique_id_l", "unique_id_r"]] = pairs.loc[swap, ["unique_id_r", "unique_id_l"]].values
    pairs = pairs.astype({"unique_id_l": "int64", "unique_id_r": "int64", "match_probability": "float64"})
    say("clustering")
    pairs["cluster_id"] = cluster_pairs(pairs, cluster_threshold)
    trained = linker.misc.save_model_to_json(out_path=None) if hasattr(linker.misc, "save_model_to_json") else model
    return DedupeResult(pairs=pairs.reset_index(drop=True), model=trained or {})


def cluster_pairs(pairs: pd.DataFrame, threshold: float) -> pd.Series:
    """The cluster of each pair at or above ``threshold`` (connected components, as Splink's
    clustering), named after its smallest member; ``<NA>`` below the threshold.

    Done here on the (small) table of pairs rather than by Splink in the backend: a union-find
    over tens of thousands of pairs takes well under a second, where iterating connected
    components as SQL costs dozens of Spark stages.
    """
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    strong = pairs["match_probability"] >= threshold
    for left, right in zip(pairs.loc[strong, "unique_id_l"].tolist(), pairs.loc[strong, "unique_id_r"].tolist()):
        a, b = root(left), root(right)
        if a != b:
            parent[max(a, b)] = min(a, b)  # the smaller id stays the root: the cluster's name
    clusters = [
        root(left) if is_strong else None for left, is_strong in zip(pairs["unique_id_l"].tolist(), strong.tolist())
    ]
    return pd.Series(clusters, index=pairs.index, dtype="Int64")


# --------------------------------------------------------------------------------------------
# The service over the registry tables


def refresh_name_forms(*, session: Session) -> int:
    """Store the name forms of persons that have none yet (created outside the importer)."""
    missing = session.execute(
        select(Person.id, Person.full_name)
        .outerjoin(PersonNameForms, PersonNameForms.person_id == Person.id)
        .where(PersonNameForms.person_id.is_(None))
    ).all()
    if not missing:
        return 0
    forms = [name_forms(name) for _, name in missing]
    return bulk_insert_rows(
        session,
        PersonNameForms.__table__,
        {
            "person_id": [person_id for person_id, _ in missing],
            "folded": [form.folded for form in forms],
            "romanised": [form.romanised for form in forms],
            "sorted_key": [form.key for form in forms],
        },
    )


def registry_frame(*, session: Session) -> pd.DataFrame:
    """The Splink input for every person not merged away."""
    rows = session.execute(
        select(
            Person.id,
            Person.full_name,
            Person.birth_date,
            Person.sex,
            Person.household_id,
            Person.location_id,
            Person.national_id,
            PersonNameForms.folded,
            PersonNameForms.romanised,
            PersonNameForms.sorted_key,
        )  # fmt: skip
        .outerjoin(PersonNameForms, PersonNameForms.person_id == Person.id)
        .where(Person.merged_into_id.is_(None))
        .order_by(Person.id)
    ).all()
    forms = {row[0]: (row[7], row[8], row[9]) for row in rows if row[7] is not None}
    return prepare_frame(
        ids=[row[0] for row in rows],
        full_names=[row[1] for row in rows],
        birth_dates=[row[2] for row in rows],
        sexes=[row[3] for row in rows],
        household_ids=[row[4] for row in rows],
        areas=[row[5] for row in rows],
        national_ids=[row[6] for row in rows],
        forms=forms,
    )


@dataclass
class DedupeRunSummary:
    run_id: int
    persons: int
    pairs_found: int
    pairs_queued: int
    pairs_auto: int
    pairs_already_decided: int


def run_dedupe(
    *,
    session: Session,
    backend: str = "duckdb",
    spark: Any = None,
    review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
    auto_threshold: float = DEFAULT_AUTO_THRESHOLD,
    retrain: bool = False,
    actor: str = SYSTEM_ACTOR,
    progress: Callable[[str], None] | None = None,
) -> DedupeRunSummary:
    """Find duplicate pairs in the registry and keep them for review.

    A pair at or above ``auto_threshold`` is marked ``auto`` (merged by ``merge_accepted`` unless
    a registrar rejects it); between the thresholds it is ``pending`` in the review queue. A pair
    already confirmed, rejected or merged keeps its decision: it is never queued again.
    The model trained by the latest run is reused unless ``retrain`` (or there is none yet).
    """
    if not 0 < review_threshold <= auto_threshold <= 1:
        raise ValidationFailed("dedupe", "thresholds", "need 0 < review threshold <= auto threshold <= 1")
    refresh_name_forms(session=session)
    frame = registry_frame(session=session)
    model = None if retrain else latest_model(session=session)
    result = find_duplicates(
        frame, threshold=review_threshold, cluster_threshold=auto_threshold, backend=backend, spark=spark,
        model=model, progress=progress,
    )  # fmt: skip
    pairs = result.pairs
    run = DedupeRun(
        started_at=dt.datetime.now(dt.UTC), actor=actor, backend=backend, persons=len(frame),
        pairs_found=len(pairs), pairs_queued=0, review_threshold=review_threshold, auto_threshold=auto_threshold,
        model=json.dumps(result.model),
    )  # fmt: skip
    session.add(run)
    session.flush()
    existing = {(row.person_id_l, row.person_id_r): row for row in session.scalars(select(DuplicatePair))}
    new_rows: dict[str, list[Any]] = {
        name: [] for name in ("person_id_l", "person_id_r", "match_probability", "cluster_id", "status", "run_id")
    }
    queued = auto = decided = 0
    for left, right, probability, cluster in zip(
        pairs["unique_id_l"].tolist(),
        pairs["unique_id_r"].tolist(),
        pairs["match_probability"].tolist(),
        pairs["cluster_id"].tolist(),
    ):
        status = "auto" if probability >= auto_threshold else "pending"
        cluster_id = None if cluster is None or pd.isna(cluster) else int(cluster)
        known = existing.get((left, right))
        if known is not None:
            if known.status in DECIDED:
                decided += 1
                continue
            known.match_probability, known.cluster_id, known.status, known.run_id = (
                float(probability),
                cluster_id,
                status,
                run.id,
            )
        else:
            for name, value in (("person_id_l", left), ("person_id_r", right),
                                ("match_probability", float(probability)), ("cluster_id", cluster_id),
                                ("status", status), ("run_id", run.id)):  # fmt: skip
                new_rows[name].append(value)
        if status == "auto":
            auto += 1
        else:
            queued += 1
    session.flush()
    if new_rows["person_id_l"]:
        bulk_insert_rows(session, DuplicatePair.__table__, new_rows)
    run.pairs_queued = queued
    record_change(
        session=session, actor=actor, entity="dedupe_runs", entity_id=run.id, action="create",
        after={"persons": len(frame), "pairs_found": len(pairs), "queued": queued, "auto": auto,
               "already_decided": decided},
    )  # fmt: skip
    return DedupeRunSummary(run.id, len(frame), len(pairs), queued, auto, decided)


def latest_model(*, session: Session) -> dict[str, Any] | None:
    """The Splink model trained by the latest dedupe run, if any."""
    text = session.scalar(select(DedupeRun.model).order_by(DedupeRun.id.desc()).limit(1))
    return json.loads(text) if text else None


def _live_pairs(statuses: tuple[str, ...]) -> Any:
    left, right = aliased(Person), aliased(Person)
    return (
        select(DuplicatePair)
        .join(left, left.id == DuplicatePair.person_id_l)
        .join(right, right.id == DuplicatePair.person_id_r)
        .where(DuplicatePair.status.in_(statuses), left.merged_into_id.is_(None), right.merged_into_id.is_(None))
    )


def review_queue(*, session: Session, limit: int = 50) -> list[DuplicatePair]:
    """Pending pairs (both persons still live), most probable first."""
    return list(
        session.scalars(
            _live_pairs(("pending",)).order_by(DuplicatePair.match_probability.desc(), DuplicatePair.id).limit(limit)
        )
    )


def count_pending(*, session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(_live_pairs(("pending",)).subquery())) or 0)


def decide_pair(*, session: Session, pair_id: int, decision: str, actor: str = SYSTEM_ACTOR) -> DuplicatePair:
    """The registrar's decision on a pair: ``confirmed`` (same person) or ``rejected``."""
    record = f"duplicate pair {pair_id}"
    if decision not in ("confirmed", "rejected"):
        raise ValidationFailed(record, "decision", "must be confirmed or rejected")
    pair = session.get(DuplicatePair, pair_id)
    if pair is None:
        raise NotFound(record, "pair_id", "unknown pair")
    if pair.status == "merged":
        raise ValidationFailed(record, "status", "already merged")
    before = {"status": pair.status}
    pair.status = decision
    pair.decided_by = actor
    pair.decided_at = dt.datetime.now(dt.UTC)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="duplicate_pairs",
        entity_id=pair.id,
        action="update",
        before=before,
        after={"status": decision},
    )
    return pair


def accepted_pairs(*, session: Session) -> list[DuplicatePair]:
    """Pairs to merge: confirmed by a registrar, or above the automatic threshold and not rejected."""
    return list(session.scalars(_live_pairs(("confirmed", "auto")).order_by(DuplicatePair.id)))


__all__ = [
    "DedupeResult",
    "DedupeRunSummary",
    "accepted_pairs",
    "count_pending",
    "decide_pair",
    "default_model",
    "cluster_pairs",
    "find_duplicates",
    "latest_model",
    "model_for_dialect",
    "prepare_frame",
    "refresh_name_forms",
    "registry_frame",
    "review_queue",
    "run_dedupe",
    "splink_settings",
    "train",
]
