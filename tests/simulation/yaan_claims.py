"""Small deterministic years of claims in the vocabulary of the Ya'an policy, and variants of it."""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

POLICIES = Path(__file__).resolve().parents[2] / "policies"
# The Ya'an policy as these tests know it (the shipped file moves on; the tests' texts must not).
YAAN = Path(__file__).resolve().parent / "data" / "cn-yaan-2018.toml"
TILT_TEXT = 'base = "total"\nmax_share = 0.10\n'
NEAR_POOR_TEXT = """  [[layer.variant]]
  bands = [
    { upto = "12000.00", ratio = 0 },"""

COLUMNS = (
    "claim_id",
    "member_id",
    "service_date",
    "provider_id",
    "provider_level",
    "designated",
    "in_area",
    "referred",
    "care_type",
    "diagnosis",
    "days",
    "total",
    "eligible",
    "categories",
)
LEVELS = ("township", "county", "city", "province")
CARE = ("outpatient", "chronic_outpatient", "inpatient", "emergency")
DIAGNOSES = {"outpatient": "J06.9", "chronic_outpatient": "I10", "inpatient": "K35.8", "emergency": "S06.0"}
CATEGORY_SETS = ("registered_poor", "near_poor", "low_income", "", "registered_poor;elderly", "elderly")


def yaan_claims(
    path: Path, *, claims: int = 240, members: int = 30, seed: int = 7, households: int | None = None
) -> Path:
    """A claims CSV of ``claims`` rows for ``members`` members (one category set each), amounts
    from a few CNY to six-figure stays; with ``households``, also household_id and district."""
    rng = random.Random(seed)
    member_categories = [CATEGORY_SETS[rng.randrange(len(CATEGORY_SETS))] for _ in range(members)]
    columns = COLUMNS + (("household_id", "district") if households else ())
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for index in range(claims):
            member = rng.randrange(members)
            care = CARE[rng.randrange(len(CARE))]
            inpatient = care == "inpatient"
            total = rng.choice(
                (rng.randint(500, 50_000), rng.randint(50_000, 2_000_000), rng.randint(2_000_000, 40_000_000))
            )
            if not inpatient:
                total //= 20
            eligible = total - rng.randint(0, total // 4)
            row = [
                f"C{index:05d}",
                f"M{member:03d}",
                (date(2018, 1, 1) + timedelta(days=rng.randrange(365))).isoformat(),
                f"P{rng.randrange(5)}",
                LEVELS[rng.randrange(len(LEVELS))],
                "true" if rng.random() < 0.9 else "false",
                "true" if rng.random() < 0.8 else "false",
                "true" if rng.random() < 0.5 else "false",
                care,
                DIAGNOSES[care],
                str(rng.randint(1, 20) if inpatient else 0),
                f"{total // 100}.{total % 100:02d}",
                f"{eligible // 100}.{eligible % 100:02d}",
                member_categories[member],
            ]
            if households:
                row += [f"H{member % households}", f"D{member % households % 3}"]
            writer.writerow(row)
    return path


def yaan_variant(path: Path, replacements: dict[str, str]) -> Path:
    """The Ya'an policy with each ``old`` text replaced by ``new`` (each must occur exactly once)."""
    text = YAAN.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


def tilt_15(folder: Path) -> Path:
    """What if the tilt ceiling were 15% of the bill instead of 10%."""
    return yaan_variant(
        folder / "cn-yaan-2018-tilt-15.toml",
        {
            'id = "cn-yaan-2018"': 'id = "cn-yaan-2018-tilt-15"',
            TILT_TEXT: 'base = "total"\nmax_share = 0.15\n',
        },
    )


def near_poor_threshold(folder: Path) -> Path:
    """What if the near-poor had the poor's halved critical-illness threshold (not their ratios)."""
    return yaan_variant(
        folder / "cn-yaan-2018-near-poor-threshold.toml",
        {
            'id = "cn-yaan-2018"': 'id = "cn-yaan-2018-near-poor-threshold"',
            NEAR_POOR_TEXT: """  [[layer.variant]]
  when = { member_category = ["near_poor"] }
  bands = [
    { upto = "6000.00", ratio = 0 },
    { upto = "50000.00", ratio = 0.50 },
    { upto = "100000.00", ratio = 0.60 },
    { ratio = 0.70 },
  ]

"""
            + NEAR_POOR_TEXT,
        },
    )
