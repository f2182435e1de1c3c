"""Answer layout: citation marks split out of the text, in order, nothing lost."""

from __future__ import annotations

from pyapp.recipes.ask import Answer, Citation
from pyapp.ui.citations import excerpt, segments


def test_written_citations_become_marks_in_order() -> None:
    text = "Bees dance [2]. Honey keeps [1, 3]"
    two, one, three = text.index("2"), text.index("1"), text.index("3")
    citations = [Citation(1, one, one + 1, None), Citation(2, two, two + 1, None), Citation(3, three, three + 1, None)]
    runs = segments(Answer("q", text, [], citations))
    assert "".join(t for t, _ in runs) == text
    assert [(t, c.number if c else None) for t, c in runs] == [
        ("Bees dance [", None), ("2", 2), ("]. Honey keeps [", None), ("1", 1), (", ", None), ("3", 3), ("]", None)]


def test_inferred_citation_gets_a_mark_of_its_own() -> None:
    text = "The tower is 31 metres tall."
    runs = segments(Answer("q", text, [], [Citation(1, len(text), len(text), None, inferred=True)]))
    assert runs == [(text, None), (" [1]", runs[1][1])]


def test_no_citations_is_one_run() -> None:
    assert segments(Answer("q", "Plain.", [], [])) == [("Plain.", None)]


def test_excerpt_flattens_and_shortens() -> None:
    assert excerpt("a\n\n b  c") == "a b c"
    assert excerpt("x" * 500, 10) == "x" * 9 + "…"
