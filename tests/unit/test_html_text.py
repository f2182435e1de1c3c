"""HTML to readable text: what is kept, what is dropped, and which bytes are refused."""

from __future__ import annotations

import pytest

from pyapp.documents.html_text import HtmlText, decode_html, html_to_text, html_to_text_async
from pyapp.documents.ingest import InputError
from tests.fixtures.scripted_engine import run_async

PAGE = """<!doctype html>
<html><head><title>Glaciers &amp; ice</title><style>p { color: red }</style>
<script>var x = "<p>not text</p>";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Glaciers</h1>
<p>Glaciers are   slow
rivers of <b>ice</b>.</p><p>They carve valleys.</p>
<div hidden>Hidden offer!</div><span style="display: none">Invisible</span>
<p aria-hidden="true">Decoration</p>
<ul><li>Moraines</li><li>Cirques<ul><li>Tarns</li></ul></li></ul>
Line one<br>Line two
<template><p>Template</p></template>
</body></html>"""


def test_readable_text_keeps_headings_and_paragraphs_and_drops_the_rest() -> None:
    result = html_to_text(PAGE)
    assert result == HtmlText("Glaciers & ice", "Glaciers\n\nGlaciers are slow rivers of ice.\n\nThey carve valleys."
                              "\n\n- Moraines\n\n- Cirques\n\n- Tarns\n\nLine one\nLine two")


def test_title_falls_back_to_the_first_heading() -> None:
    assert html_to_text("<h2>Report</h2><p>Text.</p>").title == "Report"
    assert html_to_text("<p>Only text.</p>").title == ""


def test_malformed_markup_still_gives_text() -> None:
    result = html_to_text("<p>One<p>Two</div></span><p hidden>Three<p>Four <i>five")
    assert result.text == "One\n\nTwo\n\nFour five"


def test_unclosed_head_ends_at_body() -> None:
    assert html_to_text("<html><head><title>T</title><body><p>Body text.</p>").text == "Body text."


def test_preformatted_text_keeps_its_lines() -> None:
    assert html_to_text("<pre>a  b\nc</pre>").text == "a  b\nc"


def test_entities_are_decoded() -> None:
    assert html_to_text("<p>5 &lt; 6 &mdash; caf&eacute; &#x263A;</p>").text == "5 < 6 — café ☺"


@pytest.mark.parametrize("data,text", [
    ("<p>caf\u00e9</p>".encode(), "<p>caf\u00e9</p>"),
    (b'<meta charset="iso-8859-1"><p>caf\xe9</p>', '<meta charset="iso-8859-1"><p>caf\u00e9</p>'),
    ("<p>x</p>".encode("utf-16"), "<p>x</p>"),
    (b"\xef\xbb\xbf<p>x</p>", "<p>x</p>"),
    (b'<meta charset="no-such-charset"><p>x</p>', '<meta charset="no-such-charset"><p>x</p>'),
])
def test_decoding_follows_bom_then_declared_charset_then_utf8(data: bytes, text: str) -> None:
    assert decode_html(data) == text


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"<p>caf\xe9</p>", b"%PDF-1.7\n\x00\x01"])
def test_binary_and_invalid_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(InputError):
        decode_html(data)


def test_async_parsing_in_slices_gives_the_same_text() -> None:
    page = PAGE.replace("<h1>Glaciers</h1>", "<h1>Glaciers</h1>" + "<p>Filler &amp; more text.</p>" * 5000)
    assert run_async(html_to_text_async(page)) == html_to_text(page)


def test_blank_title_falls_back_to_the_heading() -> None:
    assert html_to_text("<title>  </title><h1>Heading</h1>").title == "Heading"
