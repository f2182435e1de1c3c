"""Finding a quote verbatim in a document when only case, whitespace, quote marks or dashes differ.

A model copying a sentence rarely keeps curly quotes, em dashes or line breaks as they were, but
changing a word is not quoting, so nothing else is forgiven. Found spans are offsets into the
original text, for highlighting.
"""

from __future__ import annotations

import bisect
import re

MIN_QUOTE_CHARS = 2

_FOLD = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    '"': " ", "\u201c": " ", "\u201d": " ", "\u201e": " ", "\u201f": " ", "\u2033": " ", "\u00ab": " ", "\u00bb": " ",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ",
})
_SPACE = re.compile(r"\s+")


class NormalisedText:
    """`text` with case, whitespace runs, quote marks and dashes folded, and a map back to `text`.

    Double quotes count as spaces: a quote of a quote loses or changes its inner quote marks.

    Built with str.translate and one regex pass rather than a per-character loop: documents may
    be megabytes long and this runs in the browser.
    """

    def __init__(self, text: str) -> None:
        folded = text.translate(_FOLD)
        lowered = folded.lower()
        if len(lowered) != len(folded):  # a few characters lower to two (U+0130): fold them 1:1
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in folded)
        parts: list[str] = []
        self._norm_starts: list[int] = []  # at normalised offset _norm_starts[i] ...
        self._orig_starts: list[int] = []  # ... the original offset is _orig_starts[i] + the distance
        norm = orig = 0
        for match in _SPACE.finditer(lowered):
            parts.append(lowered[orig:match.start()] + " ")
            self._norm_starts.append(norm)
            self._orig_starts.append(orig)
            norm += match.start() - orig + 1
            orig = match.end()
        parts.append(lowered[orig:])
        self._norm_starts.append(norm)
        self._orig_starts.append(orig)
        self.text = "".join(parts)

    def original(self, norm_offset: int) -> int:
        i = bisect.bisect_right(self._norm_starts, norm_offset) - 1
        return self._orig_starts[i] + norm_offset - self._norm_starts[i]

    def find(self, quote: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
        """The original span of the first occurrence of `quote` within original [start, end)."""
        needle = " ".join(quote.translate(_FOLD).lower().split())
        if len(needle) < MIN_QUOTE_CHARS:
            return None
        lo = self._normalised(start)
        hi = len(self.text) if end is None else self._normalised(end)
        at = self.text.find(needle, lo, hi)
        if at < 0:
            return None
        begin = self.original(at)
        last = self.original(at + len(needle) - 1)
        return begin, last + 1

    def _normalised(self, orig_offset: int) -> int:
        i = bisect.bisect_right(self._orig_starts, orig_offset) - 1
        distance = orig_offset - self._orig_starts[i]
        if i + 1 < len(self._norm_starts):  # inside a collapsed whitespace run: its one space
            distance = min(distance, self._norm_starts[i + 1] - self._norm_starts[i])
        return self._norm_starts[i] + distance
