"""LIKE patterns built from what a person typed: ``%`` and ``_`` match themselves, not any text.

Use with ``column.like(pattern, escape=LIKE_ESCAPE)``; SQLAlchemy's ``contains(..., autoescape=True)``
does the same where the column itself is matched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    return text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def contains_pattern(text: str) -> str:
    """The pattern of any text containing ``text`` literally."""
    return f"%{escape_like(text)}%"


def prefix_pattern(text: str) -> str:
    """The pattern of any text beginning with ``text`` literally (a B-tree index can serve it)."""
    return f"{escape_like(text)}%"


class PatternOrder(ColumnElement[Any]):
    """Order by ``expression`` as its pattern index keeps it: on PostgreSQL ``USING ~<~``, the
    order of the ``text_pattern_ops`` operator class (byte by byte), so that the first rows of a
    prefix search are read from that index in order instead of sorting every match (a common
    family name matches a tenth of a province); elsewhere the expression itself."""

    inherit_cache = True
    _traverse_internals = [("ordered", InternalTraversal.dp_clauseelement)]

    def __init__(self, expression: ColumnElement[Any]) -> None:
        self.ordered = expression


@compiles(PatternOrder)
def _pattern_order(element: PatternOrder, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.ordered, **kw))


@compiles(PatternOrder, "postgresql")
def _pattern_order_postgresql(element: PatternOrder, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.ordered, **kw)} USING ~<~"
