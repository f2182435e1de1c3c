"""PDFs: the text pdf.js extracted becomes a document; passwords, damage, scans and size get a message."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pyapp.documents.ingest import MAX_DOCUMENT_CHARS, InputError
from pyapp.documents.pdf import PdfStatus, PdfText, document_from_pdf


def test_pages_become_one_document_titled_by_its_first_line() -> None:
    doc = document_from_pdf("report.pdf", PdfText(PdfStatus.OK, ("Annual report\nSales rose.  \n", "\n\n\nPage two.")))
    assert doc.title == "Annual report"
    assert doc.text == "Annual report\nSales rose.\n\nPage two."


def test_the_javascript_answer_is_read_field_by_field() -> None:
    answer = SimpleNamespace(status="ok", pages=["A", "B"], complete=True, detail="")
    assert PdfText.of(answer) == PdfText(PdfStatus.OK, ("A", "B"))
    with pytest.raises(ValueError):
        PdfText.of(SimpleNamespace(status="other", pages=[], complete=True, detail=""))


@pytest.mark.parametrize(
    ("extracted", "message"),
    [
        (PdfText(PdfStatus.ENCRYPTED), "protected by a password"),
        (PdfText(PdfStatus.UNREADABLE, detail="Invalid PDF structure."), r"could not be read as a PDF .*Invalid PDF"),
        (PdfText(PdfStatus.NO_READER, detail="Failed to fetch"), "PDF reader could not be loaded"),
        (PdfText(PdfStatus.OK, ("", "  \n ")), "no text layer"),
        (PdfText(PdfStatus.OK, ("a" * 10,), complete=False), f"more than {MAX_DOCUMENT_CHARS:,} characters"),
        (PdfText(PdfStatus.OK, ("a" * (MAX_DOCUMENT_CHARS + 1),)), "characters of text; wordcalc takes up to"),
    ],
)
def test_refusals_name_the_file_and_the_problem(extracted: PdfText, message: str) -> None:
    with pytest.raises(InputError, match=message) as refused:
        document_from_pdf("scan.pdf", extracted)
    assert "scan.pdf" in str(refused.value)
