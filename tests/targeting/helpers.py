"""What the targeting tests share: the shipped rules files and answers written as files."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "targeting"
KH = RULES_DIR / "kh-idpoor-rural-2012.toml"
MA = RULES_DIR / "ma-ramed-2011.toml"
VN = RULES_DIR / "vn-poverty-2022.toml"
CN = RULES_DIR / "cn-registered-poor-2017.toml"
SHIPPED = (KH, MA, VN, CN)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# A rural Cambodian household answering every item, by item id (points in comments: 58 in all).
KH_POOR = {
    "members": "5",
    "dependants": "0",
    "roof": "thatch",  # 8
    "walls": "thatch",  # 8
    "house_size": "under_20",  # 8
    "land": "none",  # 12
    "livestock": "none",  # 8
    "transport": "bicycle",  # 4
    "food_shortage": "yes",  # 10
    "crisis": "no",  # 0
}

VN_ITEMS = (
    "employment",
    "dependants",
    "nutrition",
    "health_insurance",
    "adult_education",
    "child_schooling",
    "housing_quality",
    "drinking_water",
    "toilet",
    "telecom",
    "information",
)


def vn_answers(*, members: int, income_month: str, deprived: int, floor_area: int = 20) -> dict[str, str]:
    """A Vietnamese household deprived in the first ``deprived`` yes/no indicators."""
    answers = {"members": str(members), "income_month": income_month, "floor_area": str(floor_area)}
    for index, item in enumerate(VN_ITEMS):
        answers[item] = "no" if index < deprived else "yes"
    return answers
