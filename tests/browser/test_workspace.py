"""The word calculator over a workspace: files in, documents kept across reloads, facts with
verified quotes, answers citing their passages, export — with the real model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ANSWER_TIMEOUT_MS, BOOT_TIMEOUT_MS, limited_storage, open_app, wait_until_idle

pytestmark = pytest.mark.browser


LIGHTHOUSE = """# The Harbour Lighthouse

The lighthouse at Port Ellen was built in 1832 by the engineer Robert Stevenson. It stands 31 metres
tall and its light can be seen 18 nautical miles out to sea. The last keeper, Mary Campbell, left in
1998, when the light was automated."""

BAKERY = """<html><head><title>Bakery opening</title><style>p{}</style></head><body>
<nav>Home | About</nav><article><h1>New bakery on Main Street</h1>
<p>Anna Novak opened her sourdough bakery on Main Street on 3 April. She bakes 200 loaves every
morning and sells rye bread for 4 euros.</p></article><script>alert(1)</script></body></html>"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("docs")
    paths = {"md": folder / "lighthouse.md", "html": folder / "bakery.html", "bin": folder / "photo.txt"}
    paths["md"].write_text(LIGHTHOUSE)
    paths["html"].write_text(BAKERY)
    paths["bin"].write_bytes(bytes(range(256)) * 4)
    return paths


@pytest.fixture(scope="module")
def app(chromium, dist_site):
    with open_app(chromium, dist_site, accept_downloads=True) as page:
        yield page


def saved(page: Page):
    return page.get_by_role("list", name="Saved in this browser").get_by_role("listitem")


def test_files_are_added_and_bad_ones_refused(app: Page, files) -> None:
    app.get_by_label("Add files").set_input_files([str(files["md"]), str(files["html"]), str(files["bin"])])
    expect(saved(app)).to_have_count(2)
    expect(app.locator("#documents-error")).to_contain_text("photo.txt")
    expect(app.locator("#documents-error")).to_contain_text("binary")
    expect(saved(app).first).to_contain_text("Bakery opening")
    document = app.get_by_label("Document", exact=True)
    expect(document).to_have_value(re.compile("Anna Novak opened her sourdough bakery"))
    assert "alert(1)" not in document.input_value() and "Home | About" not in document.input_value()


def test_extracted_facts_carry_checked_quotes(app: Page) -> None:
    saved(app).get_by_role("button", name="The Harbour Lighthouse", exact=True).click()
    app.get_by_role("button", name="Extract facts").click()
    wait_until_idle(app)
    expect(app.get_by_label("Result")).to_contain_text(re.compile(r"\d+ facts?, \d+ with a quote found"))
    facts = app.locator(".fact")
    assert facts.count() >= 1
    for i in range(facts.count()):
        fact = facts.nth(i)
        verified = fact.get_by_role("button", name="Show in document").count() == 1
        marked = fact.get_by_text("quote not found in the document").count() == 1
        assert verified != marked, fact.inner_text()
    expect(app.get_by_role("button", name="Copy JSON")).to_be_visible()


def test_answers_cite_the_right_document_and_jump_to_it(app: Page) -> None:
    app.get_by_label("Question").fill("How tall is the lighthouse at Port Ellen?")
    app.get_by_role("button", name="Ask").click()
    wait_until_idle(app)
    sources = app.locator(".sources li")
    expect(sources.first).to_contain_text("The Harbour Lighthouse")
    saved(app).get_by_role("button", name="Bakery opening", exact=True).click()
    sources.first.get_by_role("button", name="Show in document").click()
    document = app.get_by_label("Document", exact=True)
    expect(document).to_have_value(re.compile("Robert Stevenson"))
    selected = app.evaluate("(() => { const t = document.getElementById('document');"
                            " return t.value.slice(t.selectionStart, t.selectionEnd); })()")
    assert "31 metres" in selected


def test_question_with_no_relevant_passage_says_so_without_the_model(app: Page) -> None:
    app.get_by_label("Question").fill("What is the airspeed of an unladen swallow?")
    app.get_by_role("button", name="Ask").click()
    expect(app.get_by_label("Result")).to_contain_text("not in the documents", ignore_case=True, timeout=30_000)


def test_export_markdown_downloads_the_result(app: Page) -> None:
    with app.expect_download() as download_info:
        app.get_by_role("button", name="Export Markdown").click()
    content = Path(download_info.value.path()).read_text()
    assert content.strip()
    assert app.offline_guard.blocked == []


def test_a_question_longer_than_the_model_can_take_is_refused_and_kept(app: Page) -> None:
    question = "Why is the lighthouse at Port Ellen so tall? " * 60  # 2,760 characters
    app.get_by_label("Question").fill(question)
    app.get_by_role("button", name="Ask").click()
    expect(app.locator("#input-error")).to_contain_text("keep it under 2,000")
    expect(app.get_by_label("Question")).to_have_value(question)


def test_a_50_mb_paste_is_refused_and_what_was_typed_stays(app: Page) -> None:
    app.get_by_role("button", name="New document").click()
    app.get_by_label("Document", exact=True).fill("My own notes.")
    app.evaluate("""() => {
        const data = new DataTransfer();
        data.setData("text/plain", "word ".repeat(10_000_000));
        document.getElementById("document").dispatchEvent(
            new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }""")
    expect(app.locator("#input-error")).to_contain_text("50,000,000 characters")
    expect(app.get_by_label("Document", exact=True)).to_have_value("My own notes.")
    expect(saved(app)).to_have_count(3)  # what was typed is kept as a document of its own


def test_a_document_survives_the_tab_closing_mid_answer(app: Page) -> None:
    tab = app.context.new_page()
    tab.goto(app.url)
    expect(tab.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    tab.get_by_role("button", name="New document").click()
    tab.get_by_label("Document", exact=True).fill("Field notes: the glacier retreated 40 metres this summer.")
    tab.get_by_role("button", name="Summarize").click()
    expect(tab.get_by_label("Result")).not_to_be_empty(timeout=ANSWER_TIMEOUT_MS)  # the answer is streaming
    expect(tab.get_by_role("button", name="Stop")).to_be_enabled()
    tab.close()
    app.reload()
    expect(app.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    expect(saved(app)).to_have_count(4)
    expect(saved(app).first).to_contain_text("Field notes")


def test_documents_survive_a_reload_and_wipe_removes_them(app: Page) -> None:
    app.reload()
    expect(app.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    expect(saved(app)).to_have_count(4)
    saved(app).get_by_role("button", name="Delete Bakery opening").click()
    expect(saved(app)).to_have_count(3)
    app.get_by_role("button", name="Delete everything").click()
    app.get_by_role("button", name="Press again to delete every document and result").click()
    expect(saved(app)).to_have_count(0)
    app.wait_for_timeout(500)  # let the IndexedDB sync finish before the page goes away
    app.reload()
    expect(app.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    expect(saved(app)).to_have_count(0)
    expect(app.locator("#storage-note")).to_contain_text("Nothing saved yet")


def test_when_storage_is_full_the_text_stays_and_is_saved_once_there_is_room(chromium, dist_site) -> None:
    """In a fresh context: in the shared one, after the tests above (a wipe among them), Chromium
    let IndexedDB writes through past the overridden quota (the cause is not pinned down)."""
    with open_app(chromium, dist_site) as page:
        notes = "Storage notes: the river carried silt to the delta every spring. " * 1000
        document = page.get_by_label("Document", exact=True)
        note = page.locator("#storage-note")
        with limited_storage(page, dist_site.origin, room=10_000):
            page.get_by_role("button", name="New document").click()
            document.fill(notes)
            expect(note).to_contain_text("Couldn't save to this browser: storage is full.")
            expect(document).to_have_value(notes)
            expect(saved(page).first).to_contain_text("Storage notes")
        document.press("End")
        document.type(" Done.")
        expect(note).to_contain_text("saved in this browser only")
        page.reload()
        expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
        expect(page.get_by_label("Document", exact=True)).to_have_value(notes + " Done.")
