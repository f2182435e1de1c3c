"""Scores for the evaluation set: retrieval hit rate, answer key-point recall, extraction precision
and summary key-point coverage, from the results the assistant produced.

A key point counts as covered when most of its terms (pyapp.retrieval.terms: lowercase, light
stemming, no stopwords) occur in the output: small models paraphrase, so exact phrase matching
would score correct answers as misses, while numbers and names, the terms that carry the facts,
still have to appear as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyapp.recipes.ask import NOT_FOUND, Answer
from pyapp.recipes.extract import Extraction, Status
from pyapp.retrieval.passages import Hit
from pyapp.retrieval.terms import terms

ROOT = Path(__file__).resolve().parent
KEY_POINT_THRESHOLD = 0.6


@dataclass(frozen=True)
class Question:
    question: str
    evidence: str  # verbatim span of the document that answers it
    answer_key_points: list[str]


@dataclass(frozen=True)
class EvalDocument:
    id: str
    title: str
    text: str
    summary_key_points: list[str]
    facts: list[str]  # verbatim spans an extraction should find
    questions: list[Question]
    paraphrased: list[Question]  # sharing few words with their evidence: what BM25 misses

    def span_of(self, evidence: str) -> tuple[int, int]:
        start = self.text.index(evidence)
        return start, start + len(evidence)


@dataclass(frozen=True)
class EvalSet:
    documents: list[EvalDocument]
    unanswerable: list[str]


def load(root: Path = ROOT) -> EvalSet:
    """The set, checked: every fact and every question's evidence occurs verbatim in its document."""
    data = json.loads((root / "cases.json").read_text(encoding="utf-8"))
    documents = []
    for entry in data["documents"]:
        text = (root / entry["file"]).read_text(encoding="utf-8").strip()
        questions, paraphrased = ([Question(q["question"], q["evidence"], q["answer_key_points"]) for q in entry[key]]
                                  for key in ("questions", "paraphrased"))
        title = text.split("\n", 1)[0]
        doc = EvalDocument(entry["id"], title, text, entry["summary_key_points"], entry["facts"], questions,
                           paraphrased)
        for span in [*doc.facts, *(q.evidence for q in questions + paraphrased)]:
            if span not in text:
                raise ValueError(f"{entry['file']}: {span!r} is not in the document")
        documents.append(doc)
    return EvalSet(documents, data["unanswerable"])


def covers(output: str, key_point: str, threshold: float = KEY_POINT_THRESHOLD) -> bool:
    wanted = set(terms(key_point))
    return bool(wanted) and len(wanted & set(terms(output))) >= threshold * len(wanted)


def key_point_recall(output: str, key_points: Sequence[str]) -> float:
    return sum(covers(output, point) for point in key_points) / len(key_points) if key_points else 1.0


def retrieval_hit(hits: Sequence[Hit], doc: EvalDocument, evidence: str) -> bool:
    """Whether any retrieved passage of `doc` overlaps the evidence span."""
    start, end = doc.span_of(evidence)
    return any(h.passage.doc_id == doc.id and h.passage.start < end and start < h.passage.end for h in hits)


def extraction_precision(extraction: Extraction) -> float | None:
    """Share of extracted items whose quote was found in the document; None when nothing was extracted."""
    return extraction.n_verified / len(extraction.items) if extraction.items else None


def fact_recall(extraction: Extraction, doc: EvalDocument) -> float:
    """Share of the expected facts that some verified item's span contains or overlaps."""
    spans = [(i.start, i.end) for i in extraction.items if i.status is Status.VERIFIED]
    found = 0
    for fact in doc.facts:
        start, end = doc.span_of(fact)
        found += any(a < end and start < b for a, b in spans)
    return found / len(doc.facts) if doc.facts else 1.0


@dataclass
class DocumentRun:
    """What the assistant produced for one document; answers in the order of its questions."""

    summary: str
    extraction: Extraction
    answers: list[Answer]
    paraphrase_answers: list[Answer]


@dataclass(frozen=True)
class Figures:
    retrieval_hit_rate: float
    answer_recall: float
    paraphrase_hit_rate: float
    paraphrase_recall: float
    refusal_rate: float  # unanswerable questions answered NOT_FOUND
    extraction_precision: float
    fact_recall: float
    summary_coverage: float

    def lines(self) -> list[str]:
        return [
            f"retrieval hit rate          {self.retrieval_hit_rate:6.1%}",
            f"answer key-point recall     {self.answer_recall:6.1%}",
            f"paraphrased: retrieval hits {self.paraphrase_hit_rate:6.1%}, answer recall {self.paraphrase_recall:.1%}",
            f"'not in the documents' rate {self.refusal_rate:6.1%}  (questions no document answers)",
            f"extraction precision        {self.extraction_precision:6.1%}  (quotes verified)",
            f"extraction fact recall      {self.fact_recall:6.1%}",
            f"summary key-point coverage  {self.summary_coverage:6.1%}",
        ]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _answer_scores(doc: EvalDocument, questions: list[Question], answers: list[Answer]) -> list[tuple[bool, float]]:
    return [(retrieval_hit(answer.hits, doc, q.evidence), key_point_recall(answer.text, q.answer_key_points))
            for q, answer in zip(questions, answers, strict=True)]


def figures(eval_set: EvalSet, runs: dict[str, DocumentRun], unanswerable: Sequence[Answer]) -> Figures:
    direct, paraphrased, precisions, fact_recalls, coverages = [], [], [], [], []
    for doc in eval_set.documents:
        run = runs[doc.id]
        direct += _answer_scores(doc, doc.questions, run.answers)
        paraphrased += _answer_scores(doc, doc.paraphrased, run.paraphrase_answers)
        precision = extraction_precision(run.extraction)
        precisions.append(0.0 if precision is None else precision)
        fact_recalls.append(fact_recall(run.extraction, doc))
        coverages.append(key_point_recall(run.summary, doc.summary_key_points))
    refusals = [answer.text.strip() == NOT_FOUND for answer in unanswerable]
    return Figures(_mean([hit for hit, _ in direct]), _mean([recall for _, recall in direct]),
                   _mean([hit for hit, _ in paraphrased]), _mean([recall for _, recall in paraphrased]),
                   _mean(refusals), _mean(precisions), _mean(fact_recalls), _mean(coverages))


def retrieval_hit_rate(eval_set: EvalSet, search: Callable[[str], Sequence[Hit]]) -> float:
    """Retrieval alone, no model: the share of questions whose evidence is in `search`'s passages."""
    return _mean([retrieval_hit(search(q.question), doc, q.evidence)
                  for doc in eval_set.documents for q in doc.questions])

