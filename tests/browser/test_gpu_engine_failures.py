"""Our WebGPU engine (`?engine=webgpu`) meeting models it cannot run, and the GPU going away.

One user, in file order (each boot costs tens of seconds): a model with a weight type the engine
has no kernel for, and one whose key/value cache is larger than this GPU allows in one buffer,
are refused with their reason while the embedded model stays in use; then the GPU process
crashes in the middle of an answer and the app builds its engine again from the bytes it holds.

The limit is the device's own: SwiftShader allows 1 GiB per buffer, and the synthetic model's
cache needs 2 GiB at 4,096 tokens of context. The crash is a real one, CDP's
Browser.crashGpuProcess (what chrome://gpucrash does; Playwright cannot open that URL, it ends in
net::ERR_ABORTED): Chromium's GPU process dies, every GPUDevice is lost with reason "unknown",
and Chromium starts a new GPU process. That takes the whole browser's GPU down, so this module
runs in a browser of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ANSWER_TIMEOUT_MS, open_app, record_texts, wait_until_idle
from tests.conftest import launch_chromium
from tests.fixtures.synthetic_gguf import write_model

pytestmark = pytest.mark.browser

BOOT_TIMEOUT_MS = 240_000
EMBEDDED = "SmolLM2-135M-Instruct (Q4_1)"
DOCUMENT = ("The Danube is Europe's second-longest river. It rises in the Black Forest of Germany and "
            "flows for 2,850 kilometres through ten countries, more than any other river in the world, "
            "before it reaches the Black Sea in Romania. Vienna, Budapest and Belgrade stand on its banks.")


@pytest.fixture(scope="module")
def models(tmp_path_factory, smollm2_path: Path) -> dict[str, Path]:
    """Small llama models with SmolLM2's tokenizer, so the app opens them as far as the engine."""
    folder = tmp_path_factory.mktemp("gpu-models")
    return {
        "q2k": write_model(folder / "q2k.gguf", "llama", "Q2_K", vocab_from=smollm2_path),
        # 128 heads of 1,024: one layer's keys take 4,096 x 131,072 x 4 bytes = 2.1 GB.
        "huge-cache": write_model(folder / "huge-cache.gguf", "llama", "Q4_0", vocab_from=smollm2_path,
                                  n_layer=1, n_embd=32, n_head=128, n_kv=128, n_ff=32, n_ctx=4096, head_dim=1024),
    }


@pytest.fixture(scope="module")
def user(playwright_instance, dist_site) -> Iterator[Page]:
    browser = launch_chromium(playwright_instance)
    try:
        with open_app(browser, dist_site, path="?engine=webgpu", before_load=record_requests,
                      boot_timeout_ms=BOOT_TIMEOUT_MS, viewport={"width": 1200, "height": 900}) as page:
            expect(page.locator("#engine-info")).to_contain_text("Engine: webgpu")
            page.locator("#model-panel summary").click()
            yield page
    finally:
        browser.close()


def record_requests(page: Page) -> None:
    """Every URL the page asks for, in `page.requested`."""
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))


def pick(page: Page, path: Path) -> None:
    page.get_by_label("Model file (GGUF)").set_input_files(str(path))


def expect_embedded_model_in_use(page: Page) -> None:
    expect(page.locator("#model-error")).to_contain_text(f"The current model ({EMBEDDED}) is still in use")
    expect(page.locator("#model-name")).to_have_text(EMBEDDED)
    expect(page.locator("#engine-info")).to_contain_text(f"Engine: webgpu-f32 · model: {EMBEDDED}")


def test_a_weight_type_without_a_gpu_kernel_is_named_with_its_tensor(user: Page, models) -> None:
    pick(user, models["q2k"])
    expect(user.locator("#model-error")).to_contain_text(
        "tensor token_embd.weight has type Q2_K, which the WebGPU engine cannot run", timeout=60_000)
    expect_embedded_model_in_use(user)


def test_a_cache_larger_than_the_gpu_allows_is_refused_before_upload(user: Page, models) -> None:
    pick(user, models["huge-cache"])
    error = user.locator("#model-error")
    expect(error).to_contain_text("This model is too large for this GPU.", timeout=60_000)
    expect(error).to_contain_text("the key/value cache of one layer needs 2147.5 MB at a context of 4096 tokens, "
                                  "but this GPU allows 1073.7 MB per buffer")
    expect_embedded_model_in_use(user)


def test_a_gpu_crash_mid_answer_reloads_the_model_and_keeps_text_and_partial_result(user: Page) -> None:
    """No automatic retry: the partial answer stays on screen (a retry would replace it), and a
    GPU that keeps crashing would otherwise loop. The user presses Summarize again."""
    record_texts(user, "input-error", "inputErrorLog")
    document = user.get_by_label("Document", exact=True)
    document.fill(DOCUMENT)
    user.get_by_label("Length").select_option("paragraph")
    user.get_by_role("button", name="Summarize").click()
    result = user.get_by_label("Result")
    expect(result).not_to_be_empty(timeout=ANSWER_TIMEOUT_MS)
    user.context.browser.new_browser_cdp_session().send("Browser.crashGpuProcess")
    partial = result.text_content()
    crashed_at = len(user.requested)

    error = user.locator("#input-error")
    expect(error).to_have_text("The GPU was reset; the model was loaded again. Your text and the partial result "
                               "are kept: run it again.", timeout=120_000)
    assert user.evaluate("window.inputErrorLog")[0] == "The GPU was reset; reloading the model…"
    assert result.text_content().startswith(partial) and partial.strip()
    expect(document).to_have_value(DOCUMENT)
    expect(user.get_by_role("button", name="Summarize")).to_be_enabled()
    expect(user.locator("#engine-info")).to_contain_text(f"Engine: webgpu-f32 · model: {EMBEDDED}")
    assert [url for url in user.requested[crashed_at:] if url.endswith(".gguf")] == []

    user.get_by_label("Length").select_option("line")
    user.get_by_role("button", name="Summarize").click()
    wait_until_idle(user)
    expect(error).to_be_empty()
    expect(result).not_to_be_empty()
    expect(user.locator("#stats")).to_contain_text("answer tokens")
