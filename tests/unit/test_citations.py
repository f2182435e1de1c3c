"""Answer layout: citation marks split out of the text, in order, nothing lost."""

from __future__ import annotations

from pyapp.recipes.ask import Answer, Citation
from pyapp.ui.citations import excerpt, segments


def test_segments_cover_the_text_in_order() -> None:
    text = "Bees dance [2]. Honey keeps [1]"
    citations = [Citation(1, text.index("[1]"), len(text), None), Citation(2, 11, 14, None)]
    answer = Answer("q", text, [], citations)
    runs = segments(answer)
    assert "".join(t for t, _ in runs) == text
    assert [(t, c.number if c else None) for t, c in runs] == [
        ("Bees dance ", None), ("[2]", 2), (". Honey keeps ", None), ("[1]", 1)]


def test_no_citations_is_one_run() -> None:
    assert segments(Answer("q", "Plain.", [], [])) == [("Plain.", None)]


def test_excerpt_flattens_and_shortens() -> None:
    assert excerpt("a\n\n b  c") == "a b c"
    assert excerpt("x" * 500, 10) == "x" * 9 + "…"
