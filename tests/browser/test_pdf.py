"""PDFs dropped on the Document area: pdf.js reads their text (under the page's CSP, offline), the
text becomes a document with its token count; broken, locked and scanned PDFs get a message and
leave what was typed alone."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import open_app
from tests.fixtures.tiny_pdf import pdf_bytes

pytestmark = pytest.mark.browser

REPORT = [["Harbour report 2026", "The ferry to Islay carried 41,200 passengers in May."],
          ["The new pier opens on 3 June."]]


@pytest.fixture(scope="module")
def app(chromium, dist_site):
    console: list[str] = []

    def record_console(page: Page) -> None:
        page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))

    with open_app(chromium, dist_site, before_load=record_console) as page:
        page.console = console
        yield page


def drop(page: Page, name: str, data: bytes) -> None:
    """Drop one file on the Document area, as a user dragging it from their file manager does."""
    page.evaluate("""([name, b64]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name, {type: "application/pdf"}));
        document.getElementById("document").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }""", [name, base64.b64encode(data).decode()])


def saved(page: Page):
    return page.get_by_role("list", name="Saved in this browser").get_by_role("listitem")


def test_a_dropped_pdf_becomes_a_document_with_its_token_count(app: Page) -> None:
    app.get_by_label("Document", exact=True).fill("A draft typed just before the drop.")
    drop(app, "harbour.pdf", pdf_bytes(REPORT))
    row = saved(app).filter(has_text="Harbour report 2026")
    expect(row).to_have_count(1, timeout=60_000)
    expect(row).to_contain_text(re.compile(r"\d+ tokens"))
    text = app.get_by_label("Document", exact=True).input_value()
    assert "41,200 passengers" in text and "The new pier opens on 3 June." in text
    assert text.index("41,200") < text.index("new pier")  # pages in order
    expect(app.locator("#documents-error")).to_be_empty()
    expect(saved(app).filter(has_text="A draft typed just before the drop.")).to_have_count(1)
    assert not [m for m in app.console if "Content Security Policy" in m]
    assert not [m for m in app.console if "fake worker" in m]  # pdf.js ran in its own worker
    assert app.offline_guard.blocked == []


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.pdf", b"%PDF-1.4\nthis is not really a PDF", "broken.pdf could not be read as a PDF"),
        ("locked.pdf", pdf_bytes([["secret"]], password_protected=True), "locked.pdf is protected by a password"),
        ("scan.pdf", pdf_bytes([None, None]), "scan.pdf has no text layer"),
    ],
)
def test_unusable_pdfs_get_a_message_and_what_was_typed_stays(app: Page, name: str, data: bytes, message: str) -> None:
    app.get_by_role("button", name="New document").click()
    before = saved(app).count()
    app.get_by_label("Document", exact=True).fill("Notes I am typing right now.")
    drop(app, name, data)
    expect(app.locator("#documents-error")).to_contain_text(message, timeout=60_000)
    expect(app.get_by_label("Document", exact=True)).to_have_value("Notes I am typing right now.")
    expect(saved(app)).to_have_count(before + 1)  # the typed text, saved; nothing from the PDF
    expect(saved(app).first).to_contain_text("Notes I am typing right now.")
