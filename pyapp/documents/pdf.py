"""PDF files in: the page texts pdf.js extracted become a Document, or a refusal that says why.

pdf.js (Mozilla's PDF reader, site/pdf-text.mjs) does the extraction in JavaScript: it is the
best-kept PDF reader for browsers and parses in its own worker, off the main thread that Python and
the page share. What it hands over is plain text per page and a status. The rules of what wordcalc
accepts stay here, next to the other file rules and under plain CPython tests: the same byte and
character limits, and a message for each way a PDF can have no usable text (a password, damage,
only scanned images).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pyapp.documents.files import bounded_document
from pyapp.documents.ingest import MAX_DOCUMENT_CHARS, Document, InputError, clean_text, title_of


class PdfStatus(Enum):
    OK = "ok"
    ENCRYPTED = "encrypted"  # needs a password to open
    UNREADABLE = "unreadable"  # pdf.js refused it: damaged, or not a PDF at all
    NO_READER = "no-reader"  # pdf.js itself could not be loaded


@dataclass(frozen=True)
class PdfText:
    """What the JavaScript side reports. `complete` is False when it stopped reading pages early
    because the text was already over MAX_DOCUMENT_CHARS (the rest would be refused anyway)."""

    status: PdfStatus
    pages: tuple[str, ...] = ()
    complete: bool = True
    detail: str = ""

    @classmethod
    def of(cls, answer) -> PdfText:
        """From site/pdf-text.mjs's answer (any object with its four fields, e.g. a JsProxy)."""
        return cls(PdfStatus(str(answer.status)), tuple(str(page) for page in answer.pages),
                   bool(answer.complete), str(answer.detail))


def document_from_pdf(name: str, extracted: PdfText) -> Document:
    if extracted.status is PdfStatus.ENCRYPTED:
        raise InputError(f"{name} is protected by a password. Open it in a PDF viewer and paste its text, "
                         "or save a copy without the password.")
    if extracted.status is PdfStatus.UNREADABLE:
        raise InputError(f"{name} could not be read as a PDF (it may be damaged): {extracted.detail}")
    if extracted.status is PdfStatus.NO_READER:
        raise InputError(f"{name}: the PDF reader could not be loaded ({extracted.detail}). "
                         "Reload the page and try again.")
    if not extracted.complete:
        raise InputError(f"{name} has more than {MAX_DOCUMENT_CHARS:,} characters of text; "
                         f"wordcalc takes up to {MAX_DOCUMENT_CHARS:,}.")
    text = clean_text("\n\n".join(page.strip() for page in extracted.pages))
    if not text:
        raise InputError(f"{name} has no text layer: it is probably a scan or made of images, which wordcalc "
                         "cannot read. Run it through text recognition (OCR) first, or paste its text.")
    return bounded_document(name, text, title_of(text))
