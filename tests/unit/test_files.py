"""Files: text, Markdown and HTML in; binary, bad UTF-8 and unknown formats refused clearly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyapp.documents.files import MAX_FILE_BYTES, document_from_file
from pyapp.documents.ingest import InputError


def test_markdown_and_text() -> None:
    doc = document_from_file("notes.md", "# Trip plan\r\n\r\nVisit Lyon.\n".encode())
    assert doc.title == "Trip plan" and doc.text == "# Trip plan\n\nVisit Lyon."
    assert document_from_file("a.txt", b"\xef\xbb\xbfhello").text == "hello"
    assert document_from_file("u16.txt", "héllo".encode("utf-16")).text == "héllo"


def test_html_is_reduced_to_readable_text() -> None:
    html = b"<html><head><title>Report</title><script>evil()</script></head><body><p>Sales rose.</p></body></html>"
    doc = document_from_file("page.html", html)
    assert doc.title == "Report" and "Sales rose." in doc.text and "evil" not in doc.text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("x.txt", b"abc\x00\x01\x02", "binary"),
        ("x.txt", b"caf\xe9 au lait", "not valid UTF-8 text \\(byte 3"),
        ("x.docx", b"PK\x03\x04", "reads .txt, .md, .html and .pdf"),
        ("x.txt", b"   \n  ", "contains no text"),
        ("x.txt", b"a" * (MAX_FILE_BYTES + 1), "reads files up to"),
    ],
)
def test_refusals_name_the_problem(name: str, data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        document_from_file(name, data)


@given(st.binary(max_size=2048), st.sampled_from(["a.txt", "a.md", "a.html", "a.bin"]))
def test_any_bytes_give_a_document_or_an_input_error(data: bytes, name: str) -> None:
    try:
        document_from_file(name, data)
    except InputError:
        pass
