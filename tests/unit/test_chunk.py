"""Chunking: token limits, boundaries, spans back into the source, overlap, and the async variant."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyapp.text.chunk import chunk_text, chunk_text_async
from tests.fixtures.scripted_engine import run_async, words


DOC = "\n\n".join(
    " ".join(f"Paragraph {p} sentence {s} has seven words." for s in range(4)) for p in range(6)
)


def test_short_text_is_one_chunk_spanning_it() -> None:
    chunks = chunk_text("  One short text.\n", words, 100)
    assert len(chunks) == 1
    assert (chunks[0].text, chunks[0].start, chunks[0].end, chunks[0].n_tokens) == ("One short text.", 2, 17, 3)


@pytest.mark.parametrize("limit", [7, 8, 20, 29, 60, 500])
def test_chunks_fit_cover_the_text_in_order_and_end_at_sentences(limit: int) -> None:
    chunks = chunk_text(DOC, words, limit)
    assert all(c.n_tokens <= limit and words(c.text) == c.n_tokens for c in chunks)
    assert all(DOC[c.start:c.end] == c.text for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    assert " ".join(c.text for c in chunks).split() == DOC.split()  # nothing lost, nothing repeated


def test_chunks_prefer_filling_up_to_the_limit() -> None:
    chunks = chunk_text(DOC, words, 14)
    assert [c.n_tokens for c in chunks] == [14] * 12


def test_overlap_repeats_whole_sentences_and_still_advances() -> None:
    chunks = chunk_text(DOC, words, 21, overlap_tokens=7)
    assert all(b.start < a.end for a, b in zip(chunks, chunks[1:]))  # each shares a sentence with the previous
    assert all(b.start > a.start for a, b in zip(chunks, chunks[1:]))
    assert chunks[-1].end == len(DOC)
    assert DOC[chunks[1].start:chunks[0].end] == "Paragraph 0 sentence 2 has seven words."


def test_overlap_larger_than_chunk_cannot_stall() -> None:
    chunks = chunk_text(DOC, words, 7, overlap_tokens=100)
    assert len(chunks) == 24 and chunks[-1].end == len(DOC)


def test_a_sentence_longer_than_the_limit_is_hard_cut() -> None:
    text = "x" * 25 + ". Short one."
    chunks = chunk_text(text, len, 10)
    assert all(c.n_tokens <= 10 and len(c.text) <= 10 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_empty_and_blank_text_give_no_chunks() -> None:
    assert chunk_text("", words, 10) == [] and chunk_text(" \n\n ", words, 10) == []


def test_async_variant_gives_the_same_chunks_and_yields() -> None:
    big = "\n\n".join(f"Sentence {i} is here." for i in range(1000))
    switches = 0

    async def ticker() -> None:
        nonlocal switches
        while True:
            switches += 1
            await asyncio.sleep(0)

    async def run():
        task = asyncio.ensure_future(ticker())
        chunks = await chunk_text_async(big, words, 50, 8)
        task.cancel()
        return chunks

    assert run_async(run()) == chunk_text(big, words, 50, 8)
    assert switches >= 4  # the loop ran other work while chunking


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab .!?\n", max_size=300), st.integers(1, 30), st.integers(0, 10))
def test_any_text_chunks_within_limit_with_true_spans(text: str, limit: int, overlap: int) -> None:
    chunks = chunk_text(text, len, limit, overlap)
    for c in chunks:
        assert text[c.start:c.end] == c.text and c.text == c.text.strip() and c.text
        assert len(c.text) <= limit
    covered = set().union(*(range(c.start, c.end) for c in chunks)) if chunks else set()
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered


def test_a_huge_text_without_sentence_ends_is_cut_in_linear_time() -> None:
    counted = 0

    def counting(text: str) -> int:
        nonlocal counted
        counted += len(text)
        return len(text) // 4

    text = "abcd" * 250_000  # a megabyte, one "sentence"
    chunks = chunk_text(text, counting, 1000)
    assert all(c.n_tokens <= 1000 and counting(c.text) <= 1000 for c in chunks)
    assert "".join(c.text for c in chunks) == text
    assert counted < 40 * len(text)  # each character counted a bounded number of times
