"""BM25 over a fixed list of term lists, with the postings held as numpy arrays.

Postings are stored term-major (CSR: for term t, `_docs[_ptr[t]:_ptr[t+1]]` and their term
frequencies), so scoring a query gathers a few slices and sums them with one bincount instead of
looping over documents in Python; in Pyodide that is the difference between milliseconds and
seconds for thousands of passages. Index arrays are np.intp: Pyodide is 32-bit wasm, where
np.bincount refuses int64 indices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class Scores:
    bm25: np.ndarray  # per document
    coverage: np.ndarray  # per document: share of the query's idf mass found in it, 0..1


class Bm25:
    """`documents`: each document's term frequencies (collections.Counter of its terms)."""

    def __init__(self, documents: Sequence[Mapping[str, int]], k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self.n_docs = len(documents)
        self.vocabulary: dict[str, int] = {}
        term_ids: list[int] = []
        doc_ids: list[int] = []
        freqs: list[int] = []
        for doc_id, doc in enumerate(documents):
            for term, tf in doc.items():
                term_ids.append(self.vocabulary.setdefault(term, len(self.vocabulary)))
                doc_ids.append(doc_id)
                freqs.append(tf)
        order = np.argsort(np.asarray(term_ids, dtype=np.intp), kind="stable")
        self._docs = np.asarray(doc_ids, dtype=np.intp)[order]
        self._tf = np.asarray(freqs, dtype=np.float64)[order]
        df = np.bincount(np.asarray(term_ids, dtype=np.intp), minlength=len(self.vocabulary))
        self._ptr = np.concatenate(([0], np.cumsum(df)))
        self._idf = np.log1p((self.n_docs - df + 0.5) / (df + 0.5))
        lengths = np.asarray([sum(doc.values()) for doc in documents], dtype=np.float64)
        average = max(lengths.mean(), 1.0) if self.n_docs else 1.0
        self._length_norm = self.k1 * (1 - self.b + self.b * lengths / average)

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term no document has gets the highest possible value."""
        t = self.vocabulary.get(term)
        return float(self._idf[t]) if t is not None else math.log1p((self.n_docs + 0.5) / 0.5)

    def score(self, query: Sequence[str]) -> Scores:
        unique = list(dict.fromkeys(query))
        total_idf = sum(self.idf(term) for term in unique)
        known = [self.vocabulary[t] for t in unique if t in self.vocabulary]
        if not known:
            zeros = np.zeros(self.n_docs)
            return Scores(zeros, zeros.copy())
        slices = [slice(self._ptr[t], self._ptr[t + 1]) for t in known]
        docs = np.concatenate([self._docs[s] for s in slices])
        tf = np.concatenate([self._tf[s] for s in slices])
        idf = np.concatenate([np.full(s.stop - s.start, self._idf[t]) for s, t in zip(slices, known)])
        weight = idf * tf * (self.k1 + 1) / (tf + self._length_norm[docs])
        bm25 = np.bincount(docs, weights=weight, minlength=self.n_docs)
        coverage = np.bincount(docs, weights=idf, minlength=self.n_docs) / total_idf
        return Scores(bm25, coverage)
