"""Targeting quality: inclusion and exclusion errors of a rule set against true consumption, by area.

The input is a table of households with their ``area``, their ``true_consumption`` (minor units per
person and year) and their answers (one column per item, ``household``, ``area_type``). A household
is *truly poor* when its consumption is under its own ``true_line`` column when the table has one
(the eligibility line of its area type), else under the ``true_line`` given; it is *identified* when
the rules give it a category other than ``none``.

- inclusion error: the share of identified households that are not truly poor (leakage);
- exclusion error: the share of truly poor households that are not identified (undercoverage).

Both are computed set-based in DuckDB, per area and for the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from equicover.settlement.batch_engine_sql import quote_literal
from equicover.targeting.rules import NOT_IDENTIFIED, TargetingRules
from equicover.targeting.scoring import fetch_errors, score_relation


@dataclass(frozen=True, slots=True)
class AreaQuality:
    area: str
    households: int
    truly_poor: int
    identified: int
    included_not_poor: int
    excluded_poor: int

    @property
    def inclusion_error(self) -> float:
        return self.included_not_poor / self.identified if self.identified else 0.0

    @property
    def exclusion_error(self) -> float:
        return self.excluded_poor / self.truly_poor if self.truly_poor else 0.0


def area_quality(area: str, truly_poor: np.ndarray, identified: np.ndarray) -> AreaQuality:
    """The errors of an area from two parallel boolean arrays, one entry a household."""
    return AreaQuality(
        area=area,
        households=len(truly_poor),
        truly_poor=int(truly_poor.sum()),
        identified=int(identified.sum()),
        included_not_poor=int((identified & ~truly_poor).sum()),
        excluded_poor=int((truly_poor & ~identified).sum()),
    )


@dataclass(frozen=True, slots=True)
class QualityReport:
    by_area: list[AreaQuality]
    total: AreaQuality
    rejected: int  # households whose answers were refused (not counted above)


_SUMMARY = """
    count(*) AS households,
    count(*) FILTER (WHERE truly_poor) AS truly_poor,
    count(*) FILTER (WHERE identified) AS identified,
    count(*) FILTER (WHERE identified AND NOT truly_poor) AS included_not_poor,
    count(*) FILTER (WHERE truly_poor AND NOT identified) AS excluded_poor
"""


def _line_column(households: pa.Table) -> str:
    """Each household's own line when the table has one (a line per area type)."""
    return "CAST(" + ("true_line" if "true_line" in households.column_names else "NULL") + " AS BIGINT) AS true_line"


def _report(connection: duckdb.DuckDBPyConnection, true_line: int, rejected: int) -> QualityReport:
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE judged AS SELECT t.area, "
        "t.true_consumption < coalesce(t.true_line, " + str(int(true_line)) + ") AS truly_poor, "
        f"s.category <> {quote_literal(NOT_IDENTIFIED)} AS identified "
        "FROM truth t JOIN scored s ON s.household = t.household"
    )
    rows = connection.execute(f"SELECT area, {_SUMMARY} FROM judged GROUP BY area ORDER BY area").fetchall()
    total = connection.execute(f"SELECT 'all', {_SUMMARY} FROM judged").fetchone()
    assert total is not None
    return QualityReport(by_area=[AreaQuality(*row) for row in rows], total=AreaQuality(*total), rejected=rejected)


def quality_of(rules: TargetingRules, households: pa.Table, *, true_line: int) -> QualityReport:
    """Score the answers of ``households`` with ``rules`` and measure the errors against the truth."""
    connection = duckdb.connect()
    try:
        connection.register("households_input", households)
        connection.execute("CREATE TEMP TABLE households_all AS SELECT * FROM households_input")
        connection.execute(
            "CREATE TEMP TABLE answers_source AS SELECT rowid + 2 AS line, * EXCLUDE (area, true_consumption"
            + (", true_line" if "true_line" in households.column_names else "")
            + ") "
            "FROM households_all"
        )
        connection.execute(
            "CREATE TEMP TABLE truth AS SELECT CAST(household AS VARCHAR) AS household, "
            "CAST(area AS VARCHAR) AS area, true_consumption, " + _line_column(households) + " FROM households_input"
        )
        score_relation(connection, rules, "answers_source")
        connection.execute("CREATE TEMP TABLE scored AS SELECT household, category FROM answer_scores")
        rejected = len({error.line for error in fetch_errors(connection)})
        return _report(connection, true_line, rejected)
    finally:
        connection.close()


def targeting_errors(households: pa.Table, scores_csv: Path, *, true_line: int) -> QualityReport:
    """The errors of an already scored file (``equicover targeting score`` output) against the truth."""
    connection = duckdb.connect()
    try:
        connection.register("households_input", households)
        connection.execute(
            "CREATE TEMP TABLE truth AS SELECT CAST(household AS VARCHAR) AS household, "
            "CAST(area AS VARCHAR) AS area, true_consumption, " + _line_column(households) + " FROM households_input"
        )
        connection.execute(
            "CREATE TEMP TABLE scored AS SELECT household, category FROM "
            f"read_csv({quote_literal(str(scores_csv))}, header = true, all_varchar = true)"
        )
        rejected = connection.execute(
            "SELECT count(*) FROM truth WHERE household NOT IN (SELECT household FROM scored)"
        )
        count = rejected.fetchone()
        return _report(connection, true_line, count[0] if count else 0)
    finally:
        connection.close()
