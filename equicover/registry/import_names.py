"""Name forms for a bulk import: :func:`equicover.registry.normalise.name_forms`, memoised per token.

A register repeats its family and given names enormously, but whole names far less: in a
million names drawn from 20,000 distinct tokens (``bench/import_bench.py --distinct-tokens``),
97% of the full names are distinct, and ``name_forms`` (cached per whole name, then per token)
spent about 9 µs on each assembling its forms from the token caches. Here each token's folded
and romanised forms are memoised in a plain dict and a name's forms are joined from them: about
4 µs a new name, 1.3 µs a name seen before, the same result
(``tests/registry/test_import_names.py`` checks it against ``name_forms``).
"""

from __future__ import annotations

from equicover.registry.normalise import fold_token, romanise_token

# Bounds on what one import keeps (each entry a few hundred bytes): when full, a memo starts over.
MAX_NAMES = 100_000
MAX_TOKENS = 500_000


class ImportNameForms:
    """``(folded, romanised, sorted key)`` of a full name, as ``name_forms`` gives them."""

    def __init__(self) -> None:
        self._names: dict[str, tuple[str, str, str]] = {}
        self._tokens: dict[str, tuple[str, str]] = {}
        # How often the memo answered (for the benchmark's hit rates).
        self.names_looked_up = self.names_missed = self.tokens_looked_up = self.tokens_missed = 0

    def __call__(self, name: str) -> tuple[str, str, str]:
        self.names_looked_up += 1
        forms = self._names.get(name)
        if forms is not None:
            return forms
        self.names_missed += 1
        tokens = self._tokens
        folded_parts = []
        romanised_parts = []
        for token in name.split():
            self.tokens_looked_up += 1
            token_forms = tokens.get(token)
            if token_forms is None:
                self.tokens_missed += 1
                if len(tokens) >= MAX_TOKENS:
                    tokens.clear()
                # As name_forms: fold each token of the name, romanise each token of the folded name.
                folded = fold_token(token)
                token_forms = tokens[token] = (
                    folded,
                    " ".join(part for part in map(romanise_token, folded.split()) if part),
                )
            if token_forms[0]:
                folded_parts.append(token_forms[0])
            if token_forms[1]:
                romanised_parts.append(token_forms[1])
        romanised = " ".join(romanised_parts)
        forms = (" ".join(folded_parts), romanised, " ".join(sorted(romanised.split())))
        if len(self._names) >= MAX_NAMES:
            self._names.clear()
        self._names[name] = forms
        return forms


__all__ = ["ImportNameForms"]
