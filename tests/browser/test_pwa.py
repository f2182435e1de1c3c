"""GitHub Pages layout and the offline app: dist/ under /wordcalc/, installable, offline, updatable.

One browser context plays one user: it loads the app online under a sub-path, uses it offline
with the server out of reach, then meets a second deploy. The steps share that context (each
boot costs tens of seconds), so the tests run in file order. The served copy is built with a
lower file-size limit than GitHub Pages' so that the model ships split into parts and every step
also proves the parts are joined again (the other browser tests use dist/ as built, unsplit).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import BOOT_TIMEOUT_MS, open_app, wait_until_idle
from tests.conftest import DIST, save_artifact

import pwa  # build/ is on sys.path (conftest)
from serve import StaticHandler, serve_in_thread

pytestmark = pytest.mark.browser

MOUNT = "/wordcalc/"
SPLIT_LIMIT = 40_000_000  # the 98 MB model ships as parts of 20 MB
EIFFEL = ("The Eiffel Tower in Paris was completed in 1889 for the World's Fair. It is 330 metres tall "
          "and was the tallest structure in the world for forty years.")


@dataclass
class Deployment:
    """A copy of dist/ served under MOUNT by a server that logs every path it is asked for.

    While `reachable` is False the server drops every connection unanswered, as a network that
    is down would: the browser's own service-worker update checks ignore Playwright's offline mode.
    """

    folder: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    reachable: bool = True


def copy_dist(target: Path) -> None:
    """Copy dist/, hard-linking big files: the tests rewrite only small ones (never in place)."""
    def link_or_copy(src: str, dst: str) -> None:
        if os.path.getsize(src) > 1 << 20:
            try:
                os.link(src, dst)
                return
            except OSError:
                pass
        shutil.copy2(src, dst)

    shutil.copytree(DIST, target, copy_function=link_or_copy)


def rebuild(folder: Path) -> str:
    """The build's last step again, as `make.py build` runs it; returns the new version."""
    info = json.loads((folder / pwa.BUILD_INFO).read_text())
    del info["version"], info["split"]
    return pwa.finish(folder, info, limit=SPLIT_LIMIT)["version"]


def deploy_new_version(folder: Path) -> str:
    """What a second build + deploy does to the served folder: a changed file, a new version."""
    css = folder / "app.css"
    css.write_text(css.read_text() + "\n/* second deploy */\n")
    return rebuild(folder)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    if not (DIST / "sw.js").exists():
        pytest.fail("dist/ is not built: run `python3 build/make.py build`")
    deployed = Deployment(folder=tmp_path_factory.mktemp("pages") / "site")
    copy_dist(deployed.folder)
    rebuild(deployed.folder)

    class LoggingHandler(StaticHandler):
        mount = MOUNT

        def handle_one_request(self) -> None:
            if deployed.reachable:
                super().handle_one_request()
                return
            request_line = self.rfile.readline(65537).decode("latin-1").split()
            deployed.requests.append(request_line[1] if len(request_line) > 1 else "?")
            self.close_connection = True

        def log_request(self, code="-", size="-") -> None:
            deployed.requests.append(self.path)

    handler = functools.partial(LoggingHandler, directory=str(deployed.folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    serve_in_thread(server)
    deployed.url = f"http://127.0.0.1:{server.server_address[1]}{MOUNT}"
    yield deployed
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def user(chromium, deployment: Deployment) -> Iterator[Page]:
    """The app loaded once, online, under the sub-path; every URL the page asks for is recorded.
    Unguarded: the deployment's own server is the only one, and the test checks where requests went."""
    def record_requests(page: Page) -> None:
        page.requested = []
        page.context.on("request", lambda request: page.requested.append(request.url))

    with open_app(chromium, deployment, guarded=False, before_load=record_requests,
                  viewport={"width": 1200, "height": 900}) as page:
        yield page


def wait_for_boot(page: Page) -> None:
    expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)


def wait_for_offline_copy(page: Page) -> None:
    """Until the service worker has stored every file and controls the page."""
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT_MS)
    page.evaluate("navigator.serviceWorker.ready")


def summarize(page: Page, text: str) -> str:
    page.get_by_label("Document", exact=True).fill(text)
    page.get_by_label("Length").select_option("line")
    page.get_by_role("button", name="Summarize").click()
    wait_until_idle(page)
    expect(page.locator("#input-error")).to_be_empty()
    return page.locator("#result").inner_text()


def test_dist_files_fit_github_pages() -> None:
    pwa.check_file_sizes(DIST)
    with pytest.raises(pwa.FileTooLarge, match="SmolLM2"):
        pwa.check_file_sizes(DIST, limit=50_000_000)


def test_manifest_is_relative_and_names_png_icons(deployment: Deployment) -> None:
    manifest = json.loads((deployment.folder / "manifest.webmanifest").read_text())
    assert manifest["start_url"] == manifest["scope"] == "./"
    assert manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert (deployment.folder / icon["src"]).stat().st_size > 0


def test_service_worker_lists_every_file_but_itself_and_joins_the_parts(deployment: Deployment) -> None:
    source = (deployment.folder / "sw.js").read_text()
    build = json.loads(re.search(r"^const BUILD = (.*);$", source, re.MULTILINE).group(1))
    info = json.loads((deployment.folder / "build-info.json").read_text())
    listed = {entry["url"]: entry["bytes"] for entry in build["files"]}
    on_disk = {p.relative_to(deployment.folder).as_posix() for p in deployment.folder.rglob("*") if p.is_file()}
    assert build["version"] == info["version"]
    assert set(listed) == on_disk - {"sw.js"}
    assert {"index.html", "pyodide/pyodide.asm.wasm"} <= set(listed)
    parts = info["split"][info["model"]["url"]]
    assert build["joined"] == info["split"] and len(parts) == 5
    assert sum(listed[part] for part in parts) == info["model"]["bytes"]
    assert max(listed.values()) < SPLIT_LIMIT


def test_app_works_under_a_sub_path_and_is_installable(user: Page, deployment: Deployment) -> None:
    page = user
    assert re.search(r"eiffel|tower|paris", summarize(page, EIFFEL), re.IGNORECASE)
    off_path = [url for url in page.requested if not url.startswith(deployment.url)
                and not url.startswith(("data:", "blob:"))]
    assert off_path == []
    assert not any(path for path in deployment.requests if not path.startswith(MOUNT))
    cdp = page.context.new_cdp_session(page)
    assert cdp.send("Page.getAppManifest")["errors"] == []
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito, where Chromium never offers installation.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []
    expect(page.locator("#app-version")).to_have_text(f"version {page.evaluate('wordcalcBoot.version')}")


def test_offline_reload_still_summarizes(user: Page, deployment: Deployment) -> None:
    page = user
    wait_for_offline_copy(page)
    expect(page.locator("#storage-info")).to_contain_text("Saved for offline use")
    seen_by_server = len(deployment.requests)
    page.context.set_offline(True)
    deployment.reachable = False
    try:
        page.reload()
        wait_for_boot(page)
        assert re.search(r"eiffel|tower|paris", summarize(page, EIFFEL), re.IGNORECASE)
    finally:
        page.context.set_offline(False)
        deployment.reachable = True
    # Only the browser's own look for a newer sw.js went out (and got no answer).
    assert set(deployment.requests[seen_by_server:]) <= {MOUNT + "sw.js"}
    page.screenshot(path=str(save_artifact("offline.png")), full_page=True)


def test_the_service_worker_isolates_the_app_but_not_a_bookmarklet_launch(user: Page, deployment: Deployment) -> None:
    """GitHub Pages sends no COOP/COEP: the service worker adds them, so the CPU engine gets its
    threads from the second visit on; a page the bookmarklet opens keeps its opener instead."""
    page = user
    wait_for_offline_copy(page)
    page.reload()
    wait_for_boot(page)
    assert page.evaluate("crossOriginIsolated")
    threads = page.evaluate("Math.min(navigator.hardwareConcurrency, 4)")
    expect(page.locator("#engine-info")).to_contain_text("1 thread" if threads == 1 else f"{threads} threads")
    launched = page.context.new_page()
    launched.goto(deployment.url + "?from=bookmarklet&origin=http%3A%2F%2F127.0.0.1%3A9")
    wait_for_boot(launched)
    assert launched.evaluate("navigator.serviceWorker.controller !== null")
    assert not launched.evaluate("crossOriginIsolated")
    launched.close()


def test_a_new_deploy_offers_reload_and_takes_over(user: Page, deployment: Deployment) -> None:
    page = user
    wait_for_offline_copy(page)
    old_version = page.evaluate("wordcalcBoot.version")
    new_version = deploy_new_version(deployment.folder)
    assert new_version != old_version
    page.reload()  # a navigation makes the browser look for a new sw.js
    reload_button = page.get_by_role("button", name="Reload")
    expect(reload_button).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    expect(page.get_by_role("status").filter(has=reload_button)).to_contain_text("A new version is available")
    page.screenshot(path=str(save_artifact("update-offered.png")), full_page=True)
    with page.expect_navigation(timeout=BOOT_TIMEOUT_MS):
        reload_button.click()
    wait_for_boot(page)
    assert page.evaluate("wordcalcBoot.version") == new_version
    expect(page.locator("#update-banner")).to_be_hidden()
    caches = page.evaluate("caches.keys()")
    assert len(caches) == 1 and caches[0].endswith(new_version)
