"""Token budgets: make a text fit a number of tokens, cutting only at paragraph or sentence ends."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TokenCounter = Callable[[str], int]

_BOUNDARY = re.compile(r"\n\s*\n|(?<=[.!?])\s+|\n")


@dataclass(frozen=True)
class Fitted:
    text: str
    n_tokens: int
    truncated: bool


def boundaries(text: str) -> list[int]:
    """Character offsets where a cut leaves whole paragraphs or sentences before it."""
    return [m.start() for m in _BOUNDARY.finditer(text)]


def fit_to_budget(text: str, count: TokenCounter, budget: int) -> Fitted:
    """The longest prefix of `text` ending at a boundary that counts at most `budget` tokens.

    Falls back to a hard character cut only when not even the first sentence fits.
    """
    if budget <= 0:
        return Fitted("", 0, bool(text))
    n = count(text)
    if n <= budget:
        return Fitted(text, n, False)
    cuts = boundaries(text)
    lo, hi, best = 0, len(cuts) - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        candidate = text[: cuts[mid]].rstrip()
        if count(candidate) <= budget:
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    if not best:
        lo_c, hi_c = 0, len(text)
        while lo_c < hi_c:
            mid_c = (lo_c + hi_c + 1) // 2
            if count(text[:mid_c]) <= budget:
                lo_c = mid_c
            else:
                hi_c = mid_c - 1
        best = text[:lo_c]
    return Fitted(best, count(best), True)
