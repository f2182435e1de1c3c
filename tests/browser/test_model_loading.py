"""Loading another model: a good one switches, bad ones are refused clearly and change nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from playwright.sync_api import Page, expect

from tests.browser.conftest import open_app, wait_until_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_page(chromium, dist_site):
    with open_app(chromium, dist_site) as page:
        page.locator("#model-panel summary").click()
        yield page


def pick(page: Page, path: Path) -> None:
    page.get_by_label("Model file (GGUF)").set_input_files(str(path))


def model_error(page: Page):
    return page.locator("#model-error")


def test_random_bytes_are_refused_and_the_current_model_stays(app_page: Page, tmp_path: Path) -> None:
    path = tmp_path / "not-a-model.gguf"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    pick(app_page, path)
    expect(model_error(app_page)).to_contain_text("not a GGUF file")
    expect(model_error(app_page)).to_contain_text("SmolLM2-135M-Instruct (Q4_1)) is still in use")
    expect(app_page.locator("#model-name")).to_have_text("SmolLM2-135M-Instruct (Q4_1)")


def test_truncated_model_is_refused(app_page: Page, smollm2_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    with smollm2_path.open("rb") as f:
        path.write_bytes(f.read(3 << 20))
    pick(app_page, path)
    expect(model_error(app_page)).to_contain_text("truncated")


def test_unsupported_architecture_is_named(app_page: Page, tmp_path: Path) -> None:
    path = tmp_path / "mamba.gguf"
    writer = GGUFWriter(str(path), "mamba")
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    pick(app_page, path)
    expect(model_error(app_page)).to_contain_text("architecture 'mamba' is not supported")


def test_url_from_another_host_is_refused_before_any_request(app_page: Page) -> None:
    app_page.get_by_label("Model URL").fill("https://models.example/evil.gguf")
    app_page.get_by_role("button", name="Load model").click()
    expect(model_error(app_page)).to_contain_text("only from this site or from Hugging Face")


def test_a_good_model_loads_from_a_url_and_is_used(app_page: Page) -> None:
    app_page.get_by_label("Model URL").fill("models/SmolLM2-135M-Instruct.Q4_1.gguf")
    app_page.get_by_role("button", name="Load model").click()
    expect(app_page.locator("#model-status")).to_contain_text("Loaded", timeout=120_000)
    expect(app_page.locator("#model-name")).to_have_text("SmolLM2-135M-Instruct.Q4_1.gguf")
    expect(app_page.locator("#engine-info")).to_contain_text("SmolLM2-135M-Instruct.Q4_1.gguf")
    app_page.get_by_label("Document", exact=True).fill("The Danube flows through ten countries, more than any other river.")
    app_page.get_by_label("Length").select_option("line")
    app_page.get_by_role("button", name="Summarize").click()
    wait_until_idle(app_page)
    expect(app_page.get_by_label("Result")).not_to_be_empty()
