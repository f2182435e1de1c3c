"""Files in: a dropped or picked file's bytes become a Document, or a clear refusal.

Text and Markdown must be UTF-8 (or UTF-16 with a BOM); HTML is reduced to its readable text.
Binary files and other formats are refused by name, so the user knows what to do instead.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pyapp.documents.html_text import decode_html, html_to_text
from pyapp.documents.ingest import MAX_DOCUMENT_CHARS, Document, InputError, clean_text, title_of

MAX_FILE_BYTES = 20_000_000
TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".csv", ".log", ""}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode_text(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, "replace")
    if b"\x00" in data[:8192]:
        raise InputError("This file looks binary (it contains NUL bytes), not like text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(
            f"This file is not valid UTF-8 text (byte {err.start:,} cannot be decoded). "
            "Save it as UTF-8, or copy and paste its text."
        ) from None


def document_from_file(name: str, data: bytes) -> Document:
    suffix = PurePosixPath(name).suffix.lower()
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{name} has {len(data):,} bytes; wordcalc reads files up to {MAX_FILE_BYTES:,} bytes.")
    if suffix in HTML_SUFFIXES:
        page = html_to_text(decode_html(data))
        text, title = page.text, page.title or title_of(page.text)
    elif suffix in TEXT_SUFFIXES:
        text = clean_text(decode_text(data))
        title = title_of(text) or name
    else:
        raise InputError(f"{name}: wordcalc reads .txt, .md and .html files; for other formats, paste the text.")
    if not text:
        raise InputError(f"{name} contains no text.")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InputError(f"{name} has {len(text):,} characters of text; wordcalc takes up to {MAX_DOCUMENT_CHARS:,}.")
    return Document(text=text, title=title or name)
