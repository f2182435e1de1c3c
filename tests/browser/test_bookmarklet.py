"""The "Summarize this page" bookmarklet, run on third-party pages served from another origin.

The bookmarklet is run the way the bookmarks bar runs it: a browser-initiated navigation to its
javascript: URL (CDP Page.navigate), which Chromium executes even under a page's strict
Content-Security-Policy (a navigation the page itself starts would be blocked).
"""

from __future__ import annotations

import functools
import http.server
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from pyapp.documents.handoff import DOCUMENT_TYPE, PROTOCOL_VERSION, READY_TYPE, bookmarklet_href
from tests.conftest import DIST, OfflineGuard, Served, save_artifact

from serve import StaticHandler, serve_in_thread  # build/ is on sys.path (conftest)

pytestmark = pytest.mark.browser

BOOT_TIMEOUT_MS = 180_000
ANSWER_TIMEOUT_MS = 240_000
STRICT_CSP = "default-src 'none'; script-src 'none'; style-src 'none'; img-src 'none'"

ARTICLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Coral reefs under pressure</title></head>
<body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/subscribe">Subscribe now</a></nav></header>
<aside><p>Advertisement: cheap flights today, a limited offer on holiday packages for the whole family.</p></aside>
<article>
  <h1>Coral reefs under pressure</h1>
  <p>Coral reefs cover less than one percent of the ocean floor, yet they shelter about a quarter
  of all marine species and protect coastlines from storms.</p>
  <p>When the sea gets too warm, corals expel the algae that feed them and turn white. This
  bleaching has hit the Great Barrier Reef several times in the last decade.</p>
  <p hidden>HIDDEN-TRAP: this paragraph is not shown and must not be handed over.</p>
  <div aria-hidden="true"><p>HIDDEN-TRAP two: hidden from assistive technology.</p></div>
</article>
<footer><p>Copyright 2026 Example News. All rights reserved. Cookie settings.</p></footer>
<script>var trap = "SCRIPT-TRAP";</script>
</body></html>
"""
OPENER = """<!doctype html><html><head><title>An opener</title></head>
<body><p>A page that opens wordcalc itself.</p><iframe src="frame.html" title="another window"></iframe></body></html>
"""
FRAME = "<!doctype html><p>Another window on the same origin.</p>"
HEADERS = {
    "/article.html": {"Content-Security-Policy": STRICT_CSP},
    "/isolated.html": {"Content-Security-Policy": STRICT_CSP, "Cross-Origin-Opener-Policy": "same-origin"},
}


@pytest.fixture(scope="module")
def third_party(tmp_path_factory) -> Iterator[Served]:
    """Pages on another origin (another port); some are sent with strict security headers."""
    folder: Path = tmp_path_factory.mktemp("third-party")
    for name, html in {"article.html": ARTICLE, "isolated.html": ARTICLE, "opener.html": OPENER,
                       "frame.html": FRAME}.items():
        (folder / name).write_text(html)

    class Handler(StaticHandler):
        def end_headers(self) -> None:
            for header, value in HEADERS.get(self.path, {}).items():
                self.send_header(header, value)
            super().end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    serve_in_thread(server)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    served = Served(url=origin + "/", origin=origin, _server=server)
    yield served
    served.close()


@pytest.fixture
def browsing(chromium, dist_site, third_party):
    """A context where only the app's and the third party's origins can be reached."""
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    guard = OfflineGuard(allowed_origins={dist_site.origin, third_party.origin})
    guard.install(context)
    context.offline_guard = guard
    yield context
    context.close()


@pytest.fixture(scope="module")
def href(dist_site) -> str:
    """The link the app page shows, as pyapp renders it for this address."""
    template = json.loads((DIST / "build-info.json").read_text())["bookmarklet"]
    return bookmarklet_href(template, dist_site.url)


def record_messages(page: Page) -> None:
    page.evaluate("""() => {
        window.seenMessages = [];
        addEventListener("message", (e) => seenMessages.push({origin: e.origin, data: e.data}));
    }""")


def click_bookmark(page: Page, href: str) -> Page:
    """Run the bookmarklet as the bookmarks bar does; returns the wordcalc window it opens."""
    with page.context.expect_page() as popup:
        page.context.new_cdp_session(page).send("Page.navigate", {"url": href})
    return popup.value


def test_bookmarklet_summarizes_the_page_under_a_strict_csp(browsing, third_party, dist_site, href) -> None:
    page = browsing.new_page()
    page.goto(third_party.url + "article.html")
    record_messages(page)
    popup = click_bookmark(page, href)

    document = popup.get_by_label("Document", exact=True)
    expect(document).to_have_value(re.compile("Coral reefs cover less than one percent"), timeout=BOOT_TIMEOUT_MS)
    handed_over = document.input_value()
    for left_out in ("HIDDEN-TRAP", "SCRIPT-TRAP", "Advertisement", "Subscribe", "Copyright"):
        assert left_out not in handed_over
    source = popup.locator("#document-source")
    expect(source).to_contain_text("Untrusted web page")
    expect(source).to_contain_text("Coral reefs under pressure")
    expect(source).to_contain_text(third_party.url + "article.html")
    assert "from=bookmarklet" not in popup.url

    stop = popup.get_by_role("button", name="Stop")
    expect(stop).to_be_disabled(timeout=ANSWER_TIMEOUT_MS)
    expect(popup.locator("#result")).to_contain_text(re.compile(r"coral|reef", re.IGNORECASE))
    popup.screenshot(path=str(save_artifact("bookmarklet-summary.png")), full_page=True)

    assert page.evaluate("seenMessages") == [
        {"origin": dist_site.origin, "data": {"type": READY_TYPE, "version": PROTOCOL_VERSION}}]
    link = popup.get_by_role("link", name="Summarize this page")
    assert link.get_attribute("href") == href
    link.click()  # on wordcalc itself it only explains how to use it
    expect(popup.locator("#bookmarklet-note")).to_contain_text("drag the link")
    assert browsing.offline_guard.blocked == []


def test_only_the_opener_can_hand_over_and_only_once(browsing, third_party, dist_site) -> None:
    page = browsing.new_page()
    page.goto(third_party.url + "opener.html")
    record_messages(page)
    with browsing.expect_page() as popup_info:
        page.evaluate("(url) => { window.wordcalc = open(url); }",
                      f"{dist_site.url}?from=bookmarklet&origin={third_party.origin}")
    popup = popup_info.value
    ignored: list[str] = []
    popup.on("console", lambda message: ignored.append(message.text) if "ignored" in message.text else None)
    page.wait_for_function("() => seenMessages.length === 1", timeout=BOOT_TIMEOUT_MS)

    def document_message(text: str) -> dict:
        return {"type": DOCUMENT_TYPE, "version": PROTOCOL_VERSION, "title": "A page",
                "url": third_party.url + "opener.html", "text": text}

    frame = page.frames[1]
    frame.evaluate("(m) => parent.wordcalc.postMessage(m, '*')", document_message("FORGED by another window."))
    page.evaluate("(m) => wordcalc.postMessage(m, '*')", {**document_message("Bad shape."), "text": 5})
    for _ in range(100):
        if len(ignored) == 2:
            break
        popup.wait_for_timeout(100)
    assert len(ignored) == 2, ignored

    page.evaluate("(m) => wordcalc.postMessage(m, '*')", document_message("The real text of the opener page."))
    document = popup.get_by_label("Document", exact=True)
    expect(document).to_have_value("The real text of the opener page.", timeout=BOOT_TIMEOUT_MS)
    page.evaluate("(m) => wordcalc.postMessage(m, '*')", document_message("A second hand-over."))
    popup.wait_for_timeout(500)
    expect(document).to_have_value("The real text of the opener page.")
    assert page.evaluate("seenMessages.length") == 1
    assert popup.evaluate("window.opener === null")


def test_a_page_that_cuts_the_window_link_gets_a_clear_message(browsing, third_party, href) -> None:
    page = browsing.new_page()
    page.goto(third_party.url + "isolated.html")
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.accept()))
    popup = click_bookmark(page, href)
    expect(popup.locator("#document-source")).to_contain_text("does not let wordcalc's window talk to it",
                                                              timeout=BOOT_TIMEOUT_MS)
    page.wait_for_timeout(1_000)
    assert len(alerts) == 1 and "does not let wordcalc's window talk to it" in alerts[0]


def test_a_selection_is_handed_over_instead_of_the_page(browsing, third_party, href) -> None:
    page = browsing.new_page()
    page.goto(third_party.url + "article.html")
    page.evaluate("""() => {
        const second = document.querySelectorAll("article p")[1];
        getSelection().selectAllChildren(second);
    }""")
    popup = click_bookmark(page, href)
    expect(popup.get_by_label("Document", exact=True)).to_have_value(
        re.compile(r"^When the sea gets too warm.*last decade\.$", re.DOTALL), timeout=BOOT_TIMEOUT_MS)
    popup.close()
