"""Fixtures for engine tests: the repo served on 127.0.0.1, the harness page in Chromium with
WebGPU (SwiftShader), and the synthetic GGUF models (written once per session, served under
/synthetic/ by a route so nothing lands in the tree)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, serve_folder
from tests.fixtures.synthetic_gguf import ARCHS, TYPES, model_path, write_model

SYNTHETIC_PREFIX = "/synthetic/"


@pytest.fixture(scope="session")
def repo_site():
    served = serve_folder(ROOT)
    yield served
    served.close()


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic-gguf")
    for arch in ARCHS:
        for type_name in TYPES:
            write_model(model_path(folder, arch, type_name), arch, type_name)
    return folder


class Harness:
    def __init__(self, page):
        self.page = page

    def evaluate(self, script: str, arg=None):
        return self.page.evaluate(script, arg)

    def call(self, script: str, arg=None):
        """Run an async JS function body (`arg` in scope) and return its value; EngineErrors come
        back as {kind, message, detail} under the key "error"."""
        return self.page.evaluate(f"async (arg) => window.harness.attempt(async () => {{ {script} }})", arg)


@pytest.fixture(scope="module")
def harness(chromium, repo_site, synthetic_dir) -> Iterator[Harness]:
    context = chromium.new_context()
    page = context.new_page()
    page.on("console", lambda msg: print("[page]", msg.text) if msg.type in ("error", "warning") else None)

    def serve_synthetic(route):
        name = route.request.url.rsplit("/", 1)[1]
        path = synthetic_dir / name
        if path.exists():
            route.fulfill(path=str(path), headers={"content-type": "application/octet-stream"})
        else:
            route.fulfill(status=404, body="not found")

    page.route(f"**{SYNTHETIC_PREFIX}*", serve_synthetic)
    page.goto(repo_site.url + "tests/engine/harness.html")
    page.wait_for_function("window.harnessReady === true")
    yield Harness(page)
    context.close()


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def from_b64(text: str, dtype=np.float32) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype)
