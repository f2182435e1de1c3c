"""Pasted text: cleaning and clear refusals."""

from __future__ import annotations

import pytest

from pyapp.documents.ingest import MAX_DOCUMENT_CHARS, InputError, clean_text, document_from_paste, title_of


def test_cleaning_normalises_newlines_controls_and_blank_runs() -> None:
    raw = "Title\r\n\r\n\r\n\r\nBody\x00 text\x07 here.  \r\nEnd\ud800"
    assert clean_text(raw) == "Title\n\nBody text here.\nEnd?"


@pytest.mark.parametrize("raw", ["", "   \n\t  ", "\x00\x01"])
def test_empty_paste_is_refused_with_a_message(raw: str) -> None:
    with pytest.raises(InputError, match="nothing to summarize"):
        document_from_paste(raw)


def test_huge_paste_is_refused_with_its_size() -> None:
    with pytest.raises(InputError, match=f"{MAX_DOCUMENT_CHARS + 1:,} characters"):
        document_from_paste("a" * (MAX_DOCUMENT_CHARS + 1))


def test_title_is_first_nonblank_line_shortened() -> None:
    assert title_of("\n\n  Hello world  \nrest") == "Hello world"
    assert title_of("## Trip plan\nVisit Lyon.") == "Trip plan"
    assert len(title_of("w" * 500)) == 80
