"""LIKE patterns built from what a person typed: ``%`` and ``_`` match themselves, not any text.

Use with ``column.like(pattern, escape=LIKE_ESCAPE)``; SQLAlchemy's ``contains(..., autoescape=True)``
does the same where the column itself is matched.
"""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def contains_pattern(text: str) -> str:
    """The pattern of any text containing ``text`` literally."""
    return f"%{escape_like(text)}%"


def prefix_pattern(text: str) -> str:
    """The pattern of any text beginning with ``text`` literally (a B-tree index can serve it)."""
    return f"{escape_like(text)}%"
