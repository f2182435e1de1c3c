"""Shared fixtures: a static server for dist/ (or any folder) and Debian Chromium with WebGPU.

Browser tests block and record every request that does not go to the page's own origin, so a
test can assert that nothing left the machine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
ARTIFACTS = ROOT / "test-artifacts"
sys.path.insert(0, str(ROOT / "build"))

from chromium import ChromiumMissing, launch  # noqa: E402
from serve import make_server, serve_in_thread  # noqa: E402


@dataclass
class Served:
    """A folder served on 127.0.0.1; `url` ends with '/'."""

    url: str
    origin: str
    _server: object = field(repr=False)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_folder(root: Path, mount: str = "/", isolation_headers: bool = False) -> Served:
    server = make_server(root, port=0, mount=mount, isolation_headers=isolation_headers)
    serve_in_thread(server)
    port = server.server_address[1]
    origin = f"http://127.0.0.1:{port}"
    path = "/" + mount.strip("/") + "/" if mount.strip("/") else "/"
    return Served(url=origin + path, origin=origin, _server=server)


@pytest.fixture(scope="session")
def dist_site() -> Iterator[Served]:
    if not (DIST / "index.html").exists():
        pytest.fail("dist/ is not built: run `python3 build/make.py test`")
    served = serve_folder(DIST)
    yield served
    served.close()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch_chromium(playwright, webgpu: bool = True):
    try:
        return launch(playwright, webgpu=webgpu)
    except ChromiumMissing as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def chromium(playwright_instance):
    browser = launch_chromium(playwright_instance, webgpu=True)
    yield browser
    browser.close()


@dataclass
class OfflineGuard:
    """Records requests that leave the allowed origins; they are aborted, never sent."""

    allowed_origins: set[str]
    blocked: list[str] = field(default_factory=list)

    def install(self, context) -> None:
        def handle(route):
            url = route.request.url
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if parts.scheme in ("data", "blob") or origin in self.allowed_origins:
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        context.route("**/*", handle)


def save_artifact(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    path = DIST / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        pytest.fail("the embedded model is missing: run `python3 build/make.py build`")
    return path
