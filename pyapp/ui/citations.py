"""How an answer with [n] citations is laid out: plain text runs and citation marks, in order.

Pure (no DOM), so it is tested under CPython; the operations panel turns each mark into a button
that jumps to the cited passage.
"""

from __future__ import annotations

from pyapp.recipes.ask import Answer, Citation


def segments(answer: Answer) -> list[tuple[str, Citation | None]]:
    """(text, citation) runs covering the whole answer text; citation is None for plain text.

    A citation the model wrote covers its own digits; one inferred by the recipe (the sentence
    shares most words with a passage) has an empty span, and gets a " [n]" mark of its own.
    """
    runs: list[tuple[str, Citation | None]] = []
    at = 0
    for citation in sorted(answer.citations, key=lambda c: (c.start, c.end)):
        if citation.start > at:
            runs.append((answer.text[at:citation.start], None))
        written = answer.text[citation.start:citation.end]
        runs.append((written or f" [{citation.number}]", citation))
        at = max(at, citation.end)
    if at < len(answer.text):
        runs.append((answer.text[at:], None))
    return runs


def excerpt(text: str, limit: int = 280) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
