"""Fuzzing HTML-to-text with tag soup: a result or a clear InputError, never a crash."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pyapp.documents.html_text import html_to_text
from pyapp.documents.ingest import InputError

TAGS = ["p", "div", "script", "style", "nav", "title", "h1", "br", "span", "!--", "![CDATA[", "a", "li", "template"]
pieces = st.one_of(
    st.text(max_size=20),
    st.sampled_from(TAGS).map(lambda t: f"<{t}>"),
    st.sampled_from(TAGS).map(lambda t: f"</{t}>"),
    st.sampled_from(['<p hidden>', '<div style="display:none">', '<span aria-hidden="true">', "-->", "&amp;", "&#x1F600;",
                     "&#99999999;", "<", ">", "&"]),
)


@given(st.lists(pieces, max_size=60).map("".join))
def test_tag_soup(html: str) -> None:
    try:
        html_to_text(html)
    except InputError:
        pass
