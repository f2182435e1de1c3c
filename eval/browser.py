"""Drive the built app in headless Chromium for evaluations: boot it, then run Python inside it.

Evaluations call the same assistant the buttons call (pyapp.app.live), so they measure what a
user gets, with the real model and engine, in the real browser.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
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
def served_site(model_file: Path | None = None):
    """Yield (origin, model URL or None) for a snapshot of dist/ served with COOP/COEP.

    An evaluation runs for up to an hour, so it serves a copy: a rebuild of dist/ meanwhile must
    not change the app under test. A local model file is linked into the copy (not copied: it may
    be hundreds of MB) so the page loads it from its own origin, as the CSP requires. The isolation
    headers let the CPU engine use several threads, as on any host that sends them.
    """
    with tempfile.TemporaryDirectory(prefix="wordcalc-eval-") as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(ROOT / "dist", site)
        model_url = None
        if model_file is not None:
            (site / "eval-model").mkdir()
            (site / "eval-model" / model_file.name).symlink_to(model_file.resolve())
            model_url = f"eval-model/{model_file.name}"
        server = make_server(site, port=0, isolation_headers=True)
        serve_in_thread(server)
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", model_url
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def app_page(engine: str = "auto", model_url: str | None = None, model_file: Path | None = None):
    """Yield an AppPage booted on dist/, optionally switched to another model: `model_url` (served
    from dist/ or Hugging Face) or `model_file` (a local GGUF, served with the page)."""
    from playwright.sync_api import expect, sync_playwright

    with served_site(model_file) as (origin, served_model_url), sync_playwright() as p:
        model_url = served_model_url or model_url
        browser = launch(p)
        page = browser.new_page()
        page.goto(f"{origin}/?engine={engine}")
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
