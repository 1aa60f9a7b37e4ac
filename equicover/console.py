"""The Rich console every command prints through.

Rich falls back to 80 columns when output is not a terminal (a pipe, a CI log, `make demo | tee`),
which truncates the money columns of wide tables; there a wider fixed width is used instead.
"""

from __future__ import annotations

from rich.console import Console

PIPED_WIDTH = 160


def make_console(*, stderr: bool = False, **options: object) -> Console:
    console = Console(stderr=stderr, **options)  # type: ignore[arg-type]
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPED_WIDTH, **options)  # type: ignore[arg-type]
    return console
