"""The Rich console every command prints through.

Rich falls back to 80 columns when output is not a terminal (a pipe, a CI log, `make demo | tee`),
which truncates the money columns of wide tables; there a wider fixed width is used instead.
"""

from __future__ import annotations

from rich.console import Console

PIPED_WIDTH = 160


def make_console(*, stderr: bool = False, soft_wrap: bool = False, highlight: bool = True) -> Console:
    console = Console(stderr=stderr, soft_wrap=soft_wrap, highlight=highlight)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPED_WIDTH, soft_wrap=soft_wrap, highlight=highlight)
    return console
