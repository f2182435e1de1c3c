"""The evaluation set loads and is self-consistent; the scores count what they claim to."""

from __future__ import annotations

import pytest

from eval.scoring import (
    DocumentRun, EvalDocument, Question, covers, extraction_precision, fact_recall, figures, key_point_recall, load,
    retrieval_hit, retrieval_hit_rate,
)
from pyapp.recipes.ask import NOT_FOUND, Answer
from pyapp.recipes.extract import Extraction, Item, Status
from pyapp.retrieval.passages import Hit, Passage, PassageIndex, passages_of
from tests.fixtures.scripted_engine import run_async, words

DOC = EvalDocument("d", "Bees", "Bees make honey. A hive holds 20 kg of it.", ["bees make honey"],
                   ["20 kg"], [Question("How much honey?", "A hive holds 20 kg of it.", ["20 kg"])],
                   [Question("What is in a hive?", "A hive holds 20 kg of it.", ["20 kg"])])


def hit(doc_id: str, start: int, end: int) -> Hit:
    return Hit(Passage(doc_id, "", "", start, end, 1), 1.0, 1.0)


def test_the_set_has_a_dozen_documents_with_questions_facts_and_key_points() -> None:
    eval_set = load()
    assert len(eval_set.documents) == 12 and len({d.id for d in eval_set.documents}) == 12
    for doc in eval_set.documents:
        assert len(doc.questions) >= 3 and doc.facts and len(doc.summary_key_points) >= 3
        assert all(q.answer_key_points for q in doc.questions + doc.paraphrased)
    assert eval_set.unanswerable and sum(len(d.paraphrased) for d in eval_set.documents) >= 8


def test_key_points_tolerate_paraphrase_but_need_the_facts() -> None:
    assert covers("The colony eats between 20 and 30 kilograms of honey.", "20 to 30 kilograms")
    assert covers("Lending was made free in 1919.", "1919")
    assert not covers("Lending was made free in 1920.", "1919")
    recall = key_point_recall("Rent is 950 pounds; dogs are not allowed.", ["950 pounds", "one cat allowed", "no dogs"])
    assert recall == pytest.approx(2 / 3)


def test_retrieval_hit_needs_an_overlapping_passage_of_the_same_document() -> None:
    start = DOC.text.index("A hive")
    assert retrieval_hit([hit("d", 0, start + 1)], DOC, "A hive holds 20 kg of it.")
    assert not retrieval_hit([hit("d", 0, start)], DOC, "A hive holds 20 kg of it.")
    assert not retrieval_hit([hit("other", 0, 100)], DOC, "A hive holds 20 kg of it.")


def test_extraction_scores() -> None:
    start = DOC.text.index("20 kg")
    items = [Item("hive", "20 kg", None, Status.VERIFIED, start, start + 5), Item("x", "y", None, Status.NOT_FOUND)]
    assert extraction_precision(Extraction(items, [], 1)) == 0.5
    assert extraction_precision(Extraction([], [], 1)) is None
    assert fact_recall(Extraction(items, [], 1), DOC) == 1.0
    assert fact_recall(Extraction(items[1:], [], 1), DOC) == 0.0


def test_figures_combine_the_runs() -> None:
    eval_set = load()
    start = DOC.text.index("A hive")
    runs = {"d": DocumentRun("Bees make honey.", Extraction([], [], 1),
                             [Answer("How much honey?", "20 kg [1]", [hit("d", start, start + 5)], [])],
                             [Answer("What is in a hive?", "Bees.", [], [])])}
    small = type(eval_set)([DOC], ["Who won?"])
    result = figures(small, runs, [Answer("Who won?", NOT_FOUND, [], [])])
    assert (result.retrieval_hit_rate, result.answer_recall, result.refusal_rate) == (1, 1, 1)
    assert (result.paraphrase_hit_rate, result.paraphrase_recall) == (0, 0)
    assert (result.extraction_precision, result.fact_recall, result.summary_coverage) == (0, 0, 1)
    assert len(result.lines()) == 7


def test_bm25_finds_the_evidence_for_every_question_and_refuses_the_unanswerable() -> None:
    eval_set = load()

    async def build() -> PassageIndex:
        return await PassageIndex.build([p for d in eval_set.documents for p in await passages_of(d, words)])

    index = run_async(build())
    assert retrieval_hit_rate(eval_set, index.search) >= 0.95
    assert all(index.search(q) == [] for q in eval_set.unanswerable)

