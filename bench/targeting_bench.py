"""Score a round of synthetic households with each shipped targeting rules file; time it.

    .venv/bin/python bench/targeting_bench.py                          # 1,000,000 households, every rules file
    .venv/bin/python bench/targeting_bench.py --households 100000 --rules targeting/vn-poverty-2022.toml

Steps per rules file: synthetic answers (``equicover.targeting.synthetic``) written to a CSV, then
the timed part, the same as ``equicover targeting score``: read the CSV, check every answer, score,
decide the category and its reason, write the scores CSV. Target: 1,000,000 households in at most
30 seconds. Also prints each rule set's inclusion and exclusion errors against the households'
true consumption (``equicover.targeting.quality``).

    .venv/bin/python bench/targeting_bench.py --round 100000 --rules targeting/vn-poverty-2022.toml

``--round N`` also times a round in a database (a fresh SQLite file, or ``--database-url``): N
households registered in bulk, then the service's steps: import the answers file, score the round.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pa_csv

from equicover.targeting.loader import load_rules
from equicover.targeting.quality import targeting_errors
from equicover.targeting.rules import TargetingRules
from equicover.targeting.scoring import score_file
from equicover.targeting.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--rules", type=Path, action="append")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--round", type=int, default=0, help="Also time a round of N households in a database.")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    paths = args.rules or sorted((ROOT / "targeting").glob("*.toml"))
    for path in paths:
        rules = load_rules(path)
        started = time.perf_counter()
        synthetic = generate(rules, args.households, seed=args.seed)
        generated = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            answers = Path(folder) / "answers.csv"
            pa_csv.write_csv(synthetic.table.drop_columns(["true_consumption", "true_line", "area"]), answers)
            out = Path(folder) / "scores.csv"
            started = time.perf_counter()
            summary = score_file(rules, answers, out, Path(folder) / "scores.errors.csv")
            seconds = time.perf_counter() - started
            quality = targeting_errors(synthetic.table, out, true_line=synthetic.true_line)
        verdict = "ok" if seconds <= TARGET_SECONDS * args.households / 1_000_000 else "SLOWER THAN TARGET"
        print(
            f"{rules.id}: {summary.scored:,} scored, {summary.rejected:,} rejected in {seconds:.1f} s "
            f"({summary.scored / seconds:,.0f} households/s; generated in {generated:.1f} s) [{verdict}]"
        )
        print(f"  categories: {dict(sorted(summary.by_category.items()))}")
        total = quality.total
        print(
            f"  against true consumption: inclusion error {total.inclusion_error:.1%} of those identified, "
            f"exclusion error {total.exclusion_error:.1%} of the truly poor"
        )
        if args.round:
            time_round(rules, path, args.round, args.seed, args.database_url)


def time_round(rules: TargetingRules, path: Path, households: int, seed: int, url: str | None) -> None:
    """Register ``households`` households in one district, then import and score a round of them."""
    import datetime as dt

    from sqlalchemy import select

    from equicover.auth.service import create_account
    from equicover.db.engine import make_engine
    from equicover.db.migrate import upgrade
    from equicover.db.session import make_session_factory, session_scope
    from equicover.registry.models import Location
    from equicover.registry.schemas import LocationIn
    from equicover.registry.service import bulk_insert_households, create_location
    from equicover.targeting import service

    with tempfile.TemporaryDirectory() as folder:
        database = url or f"sqlite:///{Path(folder) / 'round.db'}"
        upgrade(database)
        engine = make_engine(database)
        factory = make_session_factory(engine)
        synthetic = generate(rules, households, seed=seed)
        with session_scope(factory) as session:
            for code, level, parent in (
                ("BX", "country", None),
                ("BP", "province", "BX"),
                ("BD", "district", "BP"),
                ("BC", "commune", "BD"),
            ):
                create_location(
                    session=session, location=LocationIn(code=code, name=code, level=level, parent_code=parent)
                )
            commune = session.scalar(select(Location.id).where(Location.code == "BC"))
            district = session.scalar(select(Location.id).where(Location.code == "BD"))
            codes = synthetic.table.column("household").to_pylist()
            bulk_insert_households(
                session=session,
                rows={
                    "code": codes,
                    "location_id": [commune] * len(codes),
                    "registered_on": [dt.date(2020, 1, 1)] * len(codes),
                },
            )
            create_account(
                session=session,
                username="bench",
                password="correct horse battery",
                role="registrar",
                location_id=district,
            )
        answers = Path(folder) / "answers.csv"
        pa_csv.write_csv(synthetic.table.drop_columns(["true_consumption", "true_line", "area"]), answers)
        with session_scope(factory) as session:
            from equicover.auth.service import get_user

            user = get_user(session=session, username="bench")
            round_ = service.open_round(
                session=session,
                rules_text=path.read_text(encoding="utf-8"),
                area_code="BC",
                starts_on=rules.effective_from,
                ends_on=rules.effective_from,
                user=user,
            )
            round_id = round_.id
        started = time.perf_counter()
        with session_scope(factory) as session:
            user = get_user(session=session, username="bench")
            result = service.import_answers(session=session, round_id=round_id, path=answers, user=user)
        imported = time.perf_counter() - started
        started = time.perf_counter()
        with session_scope(factory) as session:
            user = get_user(session=session, username="bench")
            counts = service.score_round(session=session, round_id=round_id, user=user)
        scored = time.perf_counter() - started
        engine.dispose()
        backend = database.split(":", 1)[0]
        print(
            f"  round in {backend}: {result.imported:,} households imported in {imported:.1f} s, "
            f"scored in {scored:.1f} s {dict(sorted(counts.items()))}"
        )


if __name__ == "__main__":
    main()
