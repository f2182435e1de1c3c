"""Chunking: split a document into pieces of at most N tokens at paragraph or sentence ends.

Each chunk keeps its character span in the source, so a citation or a quote found in a chunk can
be highlighted in the original document. The document is cut into sentence-sized segments at the
same boundaries `fit_to_budget` uses, each segment is counted once, and segments are packed
greedily; counting is the slow part (a real tokenizer over a long document), so the async variant
yields to the event loop between segments to keep the page responsive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

from pyapp.text.budget import TokenCounter, boundaries, fit_to_budget

YIELD_EVERY = 200  # segments counted between two yields to the event loop
HARD_CUT_CHARS_PER_TOKEN = 8


@dataclass(frozen=True)
class Chunk:
    text: str  # == source[start:end]
    start: int
    end: int
    n_tokens: int  # its sentences' counts summed: at least what a prompt spends on it


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int
    n_tokens: int


def _spans(text: str) -> Iterator[tuple[int, int]]:
    """Sentence/paragraph spans with surrounding whitespace trimmed; empty ones skipped."""
    cuts = [0, *boundaries(text), len(text)]
    for a, b in zip(cuts, cuts[1:]):
        piece = text[a:b]
        stripped = piece.strip()
        if stripped:
            start = a + len(piece) - len(piece.lstrip())
            yield start, start + len(stripped)


def _segments(text: str, count: TokenCounter, max_tokens: int) -> Iterator[_Segment]:
    """Counted segments. Each is counted with the whitespace before it, as it sits in a chunk after
    another, so a chunk's sum never undercounts it. One longer than `max_tokens` is cut into
    pieces by characters, each counted as a full chunk so it stands alone; a cut looks at most
    HARD_CUT_CHARS_PER_TOKEN * max_tokens characters ahead, so a megabyte without a sentence end
    costs linear time, not a recount of the rest at every cut."""
    gap_start = 0
    for start, end in _spans(text):
        while start < end:
            stop = min(end, start + HARD_CUT_CHARS_PER_TOKEN * max_tokens)
            if stop == end:
                n = count(text[gap_start:end])
                if n <= max_tokens:
                    yield _Segment(start, end, n)
                    break
            head = fit_to_budget(text[start:stop], count, max_tokens)
            piece_end = max(start + len(head.text.rstrip()), start + 1)  # at least one character: always advance
            yield _Segment(start, piece_end, max_tokens)
            gap_start = piece_end
            start = piece_end + len(text[piece_end:end]) - len(text[piece_end:end].lstrip())
        gap_start = end


def _pack(text: str, segments: list[_Segment], max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    first = 0
    while first < len(segments):
        last, total = first, segments[first].n_tokens
        while last + 1 < len(segments) and total + segments[last + 1].n_tokens <= max_tokens:
            last += 1
            total += segments[last].n_tokens
        start, end = segments[first].start, segments[last].end
        chunks.append(Chunk(text[start:end], start, end, total))
        if last + 1 >= len(segments):
            break
        following, carried = last + 1, 0
        while following - 1 > first and carried + segments[following - 1].n_tokens <= overlap_tokens:
            following -= 1
            carried += segments[following].n_tokens
        first = following
    return chunks


def chunk_text(text: str, count: TokenCounter, max_tokens: int, overlap_tokens: int = 0) -> list[Chunk]:
    """Chunks of at most `max_tokens`, in order; consecutive chunks share up to `overlap_tokens`
    of whole sentences so a fact split across a cut is still whole in one of them."""
    return _pack(text, list(_segments(text, count, max_tokens)), max_tokens, overlap_tokens)


async def chunk_text_async(text: str, count: TokenCounter, max_tokens: int, overlap_tokens: int = 0) -> list[Chunk]:
    """chunk_text, yielding to the event loop every YIELD_EVERY segments (the page stays live)."""
    segments: list[_Segment] = []
    for segment in _segments(text, count, max_tokens):
        segments.append(segment)
        if len(segments) % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    return _pack(text, segments, max_tokens, overlap_tokens)
