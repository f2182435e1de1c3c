"""Helpers shared by the browser tests: the app opened in a context of its own, a listener standing
in for an outside server, a storage quota squeezed for one origin, and a log of every text an
element shows."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import OfflineGuard, Served

BOOT_TIMEOUT_MS = 180_000
ANSWER_TIMEOUT_MS = 300_000


@contextmanager
def open_app(browser: Browser, site: Served, *, path: str = "", also_allow: Iterable[str] = (),
             guarded: bool = True, before_load: Callable[[Page], None] | None = None, wait_for_boot: bool = True,
             boot_timeout_ms: int = BOOT_TIMEOUT_MS, **context_options) -> Iterator[Page]:
    """The app at `site.url + path` (`site`: a Served, or anything with its url and origin), in a
    new context of `browser` made with `context_options` and closed afterwards. Guarded (the
    default): requests off `site.origin` and `also_allow` are aborted and recorded in
    `page.offline_guard.blocked`. `before_load(page)` runs before the page is opened (listeners,
    init scripts); the page is yielded once the app has booted (Summarize is enabled), or right
    after it is opened where `wait_for_boot` is False."""
    context = browser.new_context(**context_options)
    try:
        if guarded:
            guard = OfflineGuard(allowed_origins={site.origin, *also_allow})
            guard.install(context)
        page = context.new_page()
        if guarded:
            page.offline_guard = guard
        if before_load is not None:
            before_load(page)
        page.goto(site.url + path)
        if wait_for_boot:
            expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=boot_timeout_ms)
        yield page
    finally:
        context.close()


class Listener:
    """A loopback server standing in for an attacker's: it records every request it gets."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        self.hits = hits
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@contextmanager
def limited_storage(page: Page, origin: str, room: int) -> Iterator[None]:
    """Chromium's quota for `origin` set to what it uses now plus `room` bytes, then restored
    (CDP Storage.overrideQuotaForOrigin: the browser really refuses writes past it)."""
    cdp = page.context.new_cdp_session(page)
    usage = int(page.evaluate("navigator.storage.estimate().then((e) => e.usage)"))
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": usage + room})
    try:
        yield
    finally:
        cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})


def record_texts(page: Page, element_id: str, log: str) -> None:
    """From now on, every text the element shows is appended to window[log] (messages that are
    replaced before a test could look at them)."""
    page.evaluate("""([id, log]) => {
      window[log] = [];
      const element = document.getElementById(id);
      new MutationObserver(() => window[log].push(element.textContent))
        .observe(element, { childList: true, characterData: true, subtree: true });
    }""", [element_id, log])


def wait_until_idle(page: Page, timeout_ms: int = ANSWER_TIMEOUT_MS) -> None:
    """After a click that starts an operation: wait for it to start (Stop enabled), then to end.
    Waiting for Stop to be disabled alone would pass at once, before the operation has begun."""
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_enabled()
    expect(stop).to_be_disabled(timeout=timeout_ms)
