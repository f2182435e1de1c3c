"""Files in: a dropped or picked file's bytes become a Document, or a clear refusal.

Text and Markdown must be UTF-8 (or UTF-16 with a BOM); HTML is reduced to its readable text; PDFs
are read by pdf.py, under the same size limits.
Binary files and other formats are refused by name, so the user knows what to do instead.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pyapp.documents.html_text import decode_html, html_to_text
from pyapp.documents.ingest import MAX_DOCUMENT_CHARS, Document, InputError, clean_text, title_of

MAX_FILE_BYTES = 20_000_000
TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown", ".csv", ".log", ""}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
PDF_SUFFIXES = {".pdf"}
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


def is_pdf(name: str) -> bool:
    """PDFs take another path: pdf.js extracts their text in JavaScript (pyapp/documents/pdf.py)."""
    return PurePosixPath(name).suffix.lower() in PDF_SUFFIXES


def check_size(name: str, n_bytes: int) -> None:
    """Refuse a file too big to read, before its bytes are read."""
    if n_bytes > MAX_FILE_BYTES:
        raise InputError(f"{name} has {n_bytes:,} bytes; wordcalc reads files up to {MAX_FILE_BYTES:,} bytes.")


def bounded_document(name: str, text: str, title: str) -> Document:
    """The Document for a file's cleaned text, unless it is empty or over the document limit."""
    if not text:
        raise InputError(f"{name} contains no text.")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise InputError(f"{name} has {len(text):,} characters of text; wordcalc takes up to {MAX_DOCUMENT_CHARS:,}.")
    return Document(text=text, title=title or name)


def document_from_file(name: str, data: bytes) -> Document:
    suffix = PurePosixPath(name).suffix.lower()
    check_size(name, len(data))
    if suffix in HTML_SUFFIXES:
        page = html_to_text(decode_html(data))
        text, title = page.text, page.title or title_of(page.text)
    elif suffix in TEXT_SUFFIXES:
        text = clean_text(decode_text(data))
        title = title_of(text)
    else:
        raise InputError(f"{name}: wordcalc reads .txt, .md, .html and .pdf files; for other formats, paste the text.")
    return bounded_document(name, text, title)
