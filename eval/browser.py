"""Drive the built app in headless Chromium for evaluations: boot it, then run Python inside it.

Evaluations call the same assistant the buttons call (pyapp.app.live), so they measure what a
user gets, with the real model and engine, in the real browser.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))

from chromium import launch  # noqa: E402
from serve import make_server, serve_in_thread  # noqa: E402

BOOT_TIMEOUT_MS = 300_000


class AppPage:
    def __init__(self, page) -> None:
        self.page = page

    def run(self, code: str, timeout_ms: int = 600_000):
        """Run async Python `code` in the page; its last expression must be a JSON string."""
        self.page.set_default_timeout(timeout_ms)
        return json.loads(self.page.evaluate("code => window.wordcalcBoot.runPython(code)", code))


@contextmanager
def app_page(engine: str = "auto", model_url: str | None = None):
    """Yield an AppPage booted on dist/ (optionally switched to another model served from dist/)."""
    from playwright.sync_api import expect, sync_playwright

    server = make_server(ROOT / "dist", port=0)
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}/?engine={engine}"
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto(url)
        expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
        if model_url:
            page.locator("#model-panel summary").click()
            page.get_by_label("Model URL").fill(model_url)
            page.get_by_role("button", name="Load model").click()
            expect(page.locator("#model-status")).to_contain_text("Loaded", timeout=BOOT_TIMEOUT_MS)
        try:
            yield AppPage(page)
        finally:
            browser.close()
            server.shutdown()
