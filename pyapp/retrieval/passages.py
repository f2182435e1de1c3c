"""Passages of all documents and the search over them that Ask uses.

A passage is a chunk of one document (a few sentences, with its span in that document so an
answer's citation can highlight it). Cutting documents into passages costs a tokenizer pass, so
`passages_of` works per document and the workspace can keep its result until the document
changes; `PassageIndex.build` then indexes any set of passages, yielding to the event loop while
it counts terms.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from pyapp.retrieval.bm25 import Bm25
from pyapp.retrieval.terms import terms
from pyapp.text.budget import TokenCounter
from pyapp.text.chunk import chunk_text_async

PASSAGE_TOKENS = 160
OVERLAP_TOKENS = 32
YIELD_EVERY = 100  # passages indexed between two yields to the event loop (about 20 ms of work in CPython)
MIN_COVERAGE = 0.4  # share of the question's idf mass a passage must hold to count as relevant (tuned on eval/)


class SourceDocument(Protocol):
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Passage:
    doc_id: str
    title: str
    text: str  # == the document's text[start:end]
    start: int
    end: int
    n_tokens: int


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    coverage: float


async def passages_of(document: SourceDocument, count: TokenCounter, passage_tokens: int = PASSAGE_TOKENS,
                      overlap_tokens: int = OVERLAP_TOKENS) -> list[Passage]:
    chunks = await chunk_text_async(document.text, count, passage_tokens, overlap_tokens)
    return [Passage(document.id, document.title, c.text, c.start, c.end, c.n_tokens) for c in chunks]


class PassageIndex:
    def __init__(self, passages: list[Passage], bm25: Bm25) -> None:
        self.passages = passages
        self.bm25 = bm25

    @classmethod
    async def build(cls, passages: list[Passage]) -> PassageIndex:
        frequencies: list[Counter[str]] = []
        for i, passage in enumerate(passages, 1):
            frequencies.append(Counter(terms(passage.text)))
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return cls(passages, Bm25(frequencies))

    def search(self, question: str, k: int = 4, min_coverage: float = MIN_COVERAGE) -> list[Hit]:
        """The best `k` relevant passages, best first; empty when none is relevant: none shares a
        term with the question, or none holds `min_coverage` of what makes the question specific."""
        scores = self.bm25.score(terms(question))
        relevant = (scores.bm25 > 0) & (scores.coverage >= min_coverage)
        candidates = relevant.nonzero()[0]
        best = candidates[(-scores.bm25[candidates]).argsort(kind="stable")[:k]]
        return [Hit(self.passages[i], float(scores.bm25[i]), float(scores.coverage[i])) for i in best]
