"""Terms, BM25 scoring against a hand-computed value, and passage search over several documents."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass

import pytest

from pyapp.retrieval.bm25 import Bm25
from pyapp.retrieval.passages import PassageIndex, passages_of
from pyapp.retrieval.terms import stem, terms
from tests.fixtures.scripted_engine import run_async, words


@dataclass
class Doc:
    id: str
    title: str
    text: str


@pytest.mark.parametrize("word,expected", [
    ("glaciers", "glacier"), ("studies", "study"), ("melting", "melt"), ("melted", "melt"),
    ("world's", "world"), ("glass", "glass"), ("bus", "bus"), ("analysis", "analysis"), ("red", "red"),
])
def test_stem_folds_common_endings_only(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_terms_lowercase_and_drop_stopwords_and_punctuation() -> None:
    assert terms("How much of the World's fresh water do Glaciers store? 2,000 km²") == [
        "world", "fresh", "water", "glacier", "store", "2", "000", "km²"]


def test_bm25_matches_the_formula() -> None:
    docs = [Counter(["ice", "ice", "flow"]), Counter(["river", "flow"]), Counter(["sand"])]
    index = Bm25(docs, k1=1.2, b=0.75)
    scores = index.score(["ice", "flow"])
    avgdl = 6 / 3
    idf_ice, idf_flow = math.log1p((3 - 1 + 0.5) / 1.5), math.log1p((3 - 2 + 0.5) / 2.5)

    def part(idf: float, tf: int, dl: int) -> float:
        return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl))

    assert scores.bm25 == pytest.approx([part(idf_ice, 2, 3) + part(idf_flow, 1, 3), part(idf_flow, 1, 2), 0])
    assert scores.coverage == pytest.approx([1, idf_flow / (idf_ice + idf_flow), 0])


def test_unknown_query_terms_lower_coverage_but_not_scores() -> None:
    index = Bm25([Counter(["ice"]), Counter(["sand"])])
    with_unknown = index.score(["ice", "zebra"])
    assert with_unknown.bm25 == pytest.approx(index.score(["ice"]).bm25)
    assert 0 < with_unknown.coverage[0] < 0.5  # the unknown term is rarer than any known one
    assert not index.score(["zebra"]).bm25.any()


def test_empty_index_scores_nothing() -> None:
    assert len(Bm25([]).score(["ice"]).bm25) == 0


DOCS = [
    Doc("a", "Glaciers", "Glaciers are rivers of ice. They flow downhill slowly.\n\n"
        "Glaciers store about two thirds of the world's fresh water.\n\nMoraines mark old ice fronts."),
    Doc("b", "Bees", "Honeybees live in colonies. A colony makes about 25 kg of honey a year.\n\n"
        "The queen lays up to 2,000 eggs a day."),
]


def index_of(docs: list[Doc], passage_tokens: int = 12) -> PassageIndex:
    async def build() -> PassageIndex:
        passages = [p for doc in docs for p in await passages_of(doc, words, passage_tokens, 0)]
        return await PassageIndex.build(passages)

    return run_async(build())


def test_search_finds_the_passage_with_its_document_and_span() -> None:
    index = index_of(DOCS)
    hits = index.search("How much honey does a colony make?")
    best = hits[0].passage
    assert best.doc_id == "b" and best.title == "Bees"
    assert "25 kg of honey" in best.text and DOCS[1].text[best.start:best.end] == best.text
    assert all(h.passage.doc_id == "b" for h in hits)  # nothing about honey in the glacier text
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_returns_nothing_when_nothing_is_relevant() -> None:
    index = index_of(DOCS)
    assert index.search("What is the capital of Peru?") == []
    assert index.search("What is the?") == []  # only stopwords
    assert index.search("Who founded the glacier museum in Peru?") == []  # one common term of four


def test_search_limits_to_k() -> None:
    index = index_of(DOCS, passage_tokens=6)
    assert len(index.search("glaciers ice", k=2)) == 2


def test_building_a_big_index_yields_to_the_event_loop() -> None:
    doc = Doc("big", "Big", "\n\n".join(f"Passage {i} talks about topic{i % 50}." for i in range(2000)))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def run() -> PassageIndex:
        task = asyncio.ensure_future(ticker())
        index = await PassageIndex.build(await passages_of(doc, words, 5, 0))
        task.cancel()
        return index

    index = run_async(run())
    assert ticks >= 4 and len(index.passages) == 2000
    assert {h.passage.text for h in index.search("topic7", k=100)} == {
        f"Passage {i} talks about topic7." for i in range(7, 2000, 50)}
