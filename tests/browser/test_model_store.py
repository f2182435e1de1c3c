"""Models loaded by URL are stored once: resumed after a broken download, verified, listed, loaded
again with no request (offline too) and deletable; when storage is full they run from memory.

The page's CSP lets it fetch only from its own origin and Hugging Face, so the test models are
served from the app's origin: dist/ plus a downloads/ folder, by a server that answers Range
requests (build/serve.py), logs each download request with its Range header, and can be told to
break its next answer off after N bytes or to ignore Range. One browser context plays one user through the steps,
in file order (each boot costs tens of seconds); the service worker controls the page first, as
it does for a returning user, so the offline step can start the engine from its cache.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import BOOT_TIMEOUT_MS, limited_storage, open_app, record_texts
from tests.conftest import DIST

from serve import StaticHandler, serve_in_thread  # build/ is on sys.path (conftest)

pytestmark = pytest.mark.browser

LOAD_TIMEOUT_MS = 120_000
DOWNLOADS = "/downloads/"
DROP_AT = 40_000_000
PIPE_SLACK = 2 << 20
MODEL = "model.gguf"
COPY = "copy.gguf"
PLAIN = "plain.gguf"
SMALL = "small.gguf"


@dataclass
class ModelServer:
    """dist/ with downloads/ beside it; `requests` holds (path, Range header) per download request."""

    url: str = ""
    origin: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    drop_after: int | None = None  # the next download answer stops after this many body bytes
    ignore_range: bool = False  # answer as a server without Range support: 200, the whole file


@pytest.fixture(scope="module")
def model_server(tmp_path_factory, smollm2_path: Path) -> Iterator[ModelServer]:
    downloads = tmp_path_factory.mktemp("downloads")
    for name in (MODEL, COPY, PLAIN):
        try:
            os.link(smollm2_path, downloads / name)
        except OSError:
            shutil.copy2(smollm2_path, downloads / name)
    (downloads / SMALL).write_bytes(os.urandom(3 << 20))
    served = ModelServer()

    class DownloadsHandler(StaticHandler):
        def translate_path(self, path: str) -> str:
            if path.startswith(DOWNLOADS):
                return str(downloads / path[len(DOWNLOADS):].split("?")[0])
            return super().translate_path(path)

        def send_head(self):
            if self.path.startswith(DOWNLOADS):
                served.requests.append((self.path, self.headers.get("Range")))
                if served.ignore_range:
                    del self.headers["Range"]
            return super().send_head()

        def copyfile(self, source, outputfile) -> None:
            if not self.path.startswith(DOWNLOADS) or served.drop_after is None:
                super().copyfile(source, outputfile)
                return
            left, served.drop_after = served.drop_after, None
            while left > 0 and (block := source.read(min(left, 1 << 20))):
                outputfile.write(block)
                left -= len(block)
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(DownloadsHandler, directory=str(DIST)))
    serve_in_thread(server)
    served.origin = f"http://127.0.0.1:{server.server_address[1]}"
    served.url = served.origin + "/"
    yield served
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def user(chromium, model_server: ModelServer) -> Iterator[Page]:
    with open_app(chromium, model_server, viewport={"width": 1200, "height": 900}) as page:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT_MS)
        page.locator("#model-panel summary").click()
        record_texts(page, "model-status", "modelStatusLog")
        yield page


def load_url(page: Page, url: str, sha256: str = "") -> None:
    page.evaluate("window.modelStatusLog.length = 0")
    page.get_by_label("Model URL").fill(url)
    page.get_by_label("SHA-256 (optional)").fill(sha256)
    page.get_by_role("button", name="Load model", exact=True).click()


def statuses(page: Page) -> list[str]:
    return page.evaluate("window.modelStatusLog")


def stored_row(page: Page, name: str):
    return page.locator("#stored-models li").filter(has_text=name)


def usage(page: Page) -> int:
    return int(page.locator("#model-storage").get_attribute("data-usage"))


def test_a_broken_download_resumes_where_it_stopped_and_is_verified(user: Page, model_server: ModelServer,
                                                                     smollm2_path: Path) -> None:
    digest = hashlib.sha256(smollm2_path.read_bytes()).hexdigest()
    model_server.drop_after = DROP_AT
    load_url(user, f"downloads/{MODEL}#sha256={digest}")
    expect(user.locator("#model-status")).to_have_text(f"Loaded {MODEL}.", timeout=LOAD_TIMEOUT_MS)
    (first, no_range), (second, resume_range) = model_server.requests
    assert first == second == DOWNLOADS + MODEL and no_range is None
    # Where the page stopped reading: Chromium drops the little it had not read yet when the
    # connection broke (so far it has always read all of it).
    resumed_at = int(resume_range.removeprefix("bytes=").removesuffix("-"))
    assert DROP_AT - PIPE_SLACK <= resumed_at <= DROP_AT
    log = statuses(user)
    assert f"Resuming the download at {resumed_at / 1e6:.1f} MB of 98.4 MB…" in log
    assert any(text.startswith("Checking the SHA-256:") for text in log)
    expect(stored_row(user, MODEL)).to_contain_text("98.4 MB")
    expect(user.locator("#model-storage")).to_contain_text("Models stored here: 98.4 MB")


def test_a_server_that_ignores_range_sends_the_whole_file_again(user: Page, model_server: ModelServer) -> None:
    seen = len(model_server.requests)
    model_server.drop_after = DROP_AT
    model_server.ignore_range = True
    try:
        load_url(user, f"downloads/{PLAIN}")
        expect(user.locator("#model-status")).to_have_text(f"Loaded {PLAIN}.", timeout=LOAD_TIMEOUT_MS)
    finally:
        model_server.ignore_range = False
    ranges = [header for _, header in model_server.requests[seen:]]
    assert len(ranges) == 2 and ranges[0] is None and ranges[1].startswith("bytes=")
    expect(stored_row(user, PLAIN)).to_contain_text("98.4 MB")


def test_a_wrong_sha256_is_refused_and_nothing_is_stored(user: Page) -> None:
    load_url(user, f"downloads/{SMALL}", sha256="0" * 64)
    expect(user.locator("#model-error")).to_contain_text("The downloaded file's SHA-256 is", timeout=LOAD_TIMEOUT_MS)
    expect(user.locator("#model-error")).to_contain_text("nothing was stored")
    expect(user.locator("#model-error")).to_contain_text(f"The current model ({PLAIN}) is still in use")
    expect(stored_row(user, SMALL)).to_have_count(0)
    caches = user.evaluate("caches.keys()")
    assert [name for name in caches if SMALL in name] == []


def test_the_stored_model_loads_again_offline_with_no_request(user: Page, model_server: ModelServer) -> None:
    seen = len(model_server.requests)
    user.context.set_offline(True)
    try:
        load_url(user, f"downloads/{MODEL}")
        expect(user.locator("#model-status")).to_have_text(f"Loaded {MODEL}.", timeout=LOAD_TIMEOUT_MS)
    finally:
        user.context.set_offline(False)
    assert len(model_server.requests) == seen
    assert "Using the copy stored in this browser…" in statuses(user)
    expect(user.locator("#model-error")).to_be_empty()


def test_when_storage_is_full_the_model_runs_from_memory(user: Page, model_server: ModelServer) -> None:
    with limited_storage(user, model_server.origin, room=30_000_000):
        load_url(user, f"downloads/{COPY}")
        expect(user.locator("#model-status")).to_contain_text(f"Loaded {COPY}. It was not stored, because there is "
                                                              "no room left", timeout=LOAD_TIMEOUT_MS)
    expect(stored_row(user, COPY)).to_have_count(0)
    assert [name for name in user.evaluate("caches.keys()") if COPY in name] == []


def test_delete_removes_the_model_and_frees_its_space(user: Page) -> None:
    """The model is no longer in use (the previous step switched away from it); Chromium gives
    its space back once the Blobs read from it are garbage-collected, forced here."""
    before = usage(user)
    user.get_by_role("button", name=f"Delete {MODEL}").click()
    expect(stored_row(user, MODEL)).to_have_count(0)
    expect(user.locator("#model-status")).to_have_text(f"Deleted the stored copy of {MODEL}.")
    user.context.new_cdp_session(user).send("HeapProfiler.collectGarbage")
    panel = user.locator("#model-panel summary")
    panel.click()
    panel.click()  # reopened: fresh figures
    freed = f"() => Number(document.getElementById('model-storage').dataset.usage) < {before - 90_000_000}"
    user.wait_for_function(freed)
