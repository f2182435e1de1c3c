"""HTML to the text a reader sees: headings and paragraphs kept, scripts, styles, navigation and
hidden elements dropped. Uses only html.parser, which never fails on malformed markup.

Bytes are decoded by their BOM, else the charset the page declares, else UTF-8; binary data and
text that does not decode are refused with InputError rather than turned into mojibake.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from pyapp.documents.ingest import InputError, clean_text

MAX_HTML_BYTES = 30_000_000
FEED_CHARS = 64_000

SKIPPED = frozenset({"script", "style", "nav", "noscript", "template", "svg", "math", "iframe", "object",
                     "head", "select", "button", "canvas", "audio", "video", "form"})
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                  "source", "track", "wbr"})
BLOCK = frozenset({"address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
                   "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
                   "header", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table",
                   "tr", "ul", "caption"})
CLOSES_P = BLOCK - {"li", "dd", "dt", "tr", "caption"}
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f]+")
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_BREAK = "\x00"  # paragraph break marker while collecting; NUL never survives decoding checks


@dataclass(frozen=True)
class HtmlText:
    title: str  # <title>, else the first heading, else ""
    text: str


def _hides(tag: str, attrs: dict[str, str | None]) -> bool:
    return (tag in SKIPPED or "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true"
            or bool(_HIDDEN_STYLE.search(attrs.get("style") or "")))


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, bool]] = []  # (tag, hides its content)
        self.n_hiding = 0
        self.pre_depth = 0
        self.out: list[str] = []
        self.title: list[str] = []
        self.first_heading: list[str] | None = None
        self.in_title = False
        self.heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
            return
        if tag in CLOSES_P and self.open and self.open[-1][0] == "p":
            self._close("p")
        if tag == "li" and self._innermost("li", "ul", "ol") == "li":
            self._close("li")
        if tag == "body" and self._innermost("head") == "head":
            self._close("head")
        if tag == "br":
            self._emit("\n")
        elif tag in BLOCK:
            self._emit(_BREAK)
            if tag == "li" and not self.n_hiding:
                self.out.append("- ")
        elif tag in ("td", "th"):
            self._emit(" ")
        if tag in VOID:
            return
        hides = _hides(tag, dict(attrs))
        self.open.append((tag, hides))
        self.n_hiding += hides
        self.pre_depth += tag == "pre"
        if tag in HEADINGS and self.first_heading is None and not self.n_hiding:
            self.heading = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self._close(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif any(t == tag for t, _ in self.open):
            self._close(tag)

    def _innermost(self, *tags: str) -> str | None:
        """Which of `tags` is open nearest the current position (HTML closes li and head implicitly)."""
        return next((t for t, _ in reversed(self.open) if t in tags), None)

    def _close(self, tag: str) -> None:
        while self.open:
            name, hides = self.open.pop()
            self.n_hiding -= hides
            self.pre_depth -= name == "pre"
            if name in BLOCK:
                self._emit(_BREAK)
            if name in HEADINGS and self.heading is not None:
                self.first_heading, self.heading = self.heading, None
            if name == tag:
                return

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif not self.n_hiding:
            self.out.append(data if self.pre_depth else _SPACES.sub(" ", data))
            if self.heading is not None:
                self.heading.append(data)

    def _emit(self, mark: str) -> None:
        if not self.n_hiding:
            self.out.append(mark)


def html_to_text(html: str) -> HtmlText:
    reader = _Reader()
    reader.feed(html)
    return _finish(reader)


async def html_to_text_async(html: str) -> HtmlText:
    """html_to_text, parsing FEED_CHARS at a time and yielding to the event loop in between:
    html.parser is pure Python, and a page of megabytes would otherwise freeze the browser tab."""
    reader = _Reader()
    for start in range(0, len(html), FEED_CHARS):
        reader.feed(html[start:start + FEED_CHARS])
        await asyncio.sleep(0)
    return _finish(reader)


def _finish(reader: _Reader) -> HtmlText:
    reader.close()
    lines = "".join(reader.out).replace(_BREAK, "\n\n").split("\n")
    text = clean_text("\n".join(line.strip(" ") for line in lines))
    title = " ".join("".join(reader.title).split()) or " ".join("".join(reader.first_heading or []).split())
    return HtmlText(title, text)


def decode_html(data: bytes) -> str:
    """The page's text: by BOM, else its declared charset, else UTF-8; refuses binary and bad bytes."""
    if len(data) > MAX_HTML_BYTES:
        raise InputError(f"This file has {len(data):,} bytes; wordcalc reads HTML files up to {MAX_HTML_BYTES:,}.")
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return _decode(data, encoding)
    if b"\x00" in data[:8192]:
        raise InputError("This file looks binary, not like an HTML page.")
    declared = _META_CHARSET.search(data[:4096])
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return _decode(data, encoding)


def _decode(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise InputError(f"This file is not valid {encoding.upper()} text, "
                         "so it cannot be read as an HTML page.") from None
    if "\x00" in text:
        raise InputError("This file looks binary, not like an HTML page.")
    return text
