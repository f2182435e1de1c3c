"""Pasted text in: normalised, checked, and refused with a message a person can act on."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_DOCUMENT_CHARS = 2_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


class InputError(ValueError):
    """The user's input cannot be used; str() is the message to show."""


@dataclass(frozen=True)
class Document:
    text: str
    title: str

    @property
    def n_chars(self) -> int:
        return len(self.text)


def clean_text(raw: str) -> str:
    """Unify newlines, drop control characters and lone surrogates, trim runs of blank lines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _TRAILING_SPACE.sub("\n", text)
    return _MANY_BLANK_LINES.sub("\n\n", text).strip()


def title_of(text: str, max_chars: int = 80) -> str:
    """The first non-blank line, without Markdown heading marks, shortened to `max_chars`."""
    first_line = next((line.strip().lstrip("#").strip() for line in text.split("\n") if line.strip()), "")
    return first_line if len(first_line) <= max_chars else first_line[: max_chars - 1].rstrip() + "…"


def document_from_paste(raw: str) -> Document:
    if len(raw) > MAX_DOCUMENT_CHARS:
        raise InputError(
            f"This text has {len(raw):,} characters; wordcalc takes up to {MAX_DOCUMENT_CHARS:,} "
            "at a time. Paste a part of it."
        )
    text = clean_text(raw)
    if not text:
        raise InputError("There is nothing to summarize yet: paste some text into Document first.")
    return Document(text=text, title=title_of(text))
