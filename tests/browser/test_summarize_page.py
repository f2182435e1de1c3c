"""The first vertical slice, as a user meets it: boot, paste, Summarize, Stop — real model, offline."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ANSWER_TIMEOUT_MS, open_app, wait_until_idle
from tests.conftest import save_artifact

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1200, "height": 900}

HONEYBEES = """Honeybees live in colonies that can hold tens of thousands of workers, a few hundred drones \
and a single queen. The queen lays up to two thousand eggs a day during spring, while the workers, \
all of them female, clean the hive, feed the larvae, build wax comb and guard the entrance.

Older workers become foragers. They fly up to five kilometres from the hive to collect nectar and \
pollen from flowers, and they tell their sisters where the best flowers are with the waggle dance, \
whose angle and duration encode the direction and distance of the food.

Nectar is turned into honey inside the hive: workers add enzymes, spread it in the cells of the comb \
and fan their wings until most of the water evaporates. A strong colony stores more than twenty \
kilograms of honey to survive the winter.

Honeybees pollinate many crops, including apples, almonds and blueberries. In recent decades beekeepers \
have reported heavy losses of colonies, blamed on parasitic varroa mites, viruses, pesticides and the \
loss of flowering plants, which has made the health of honeybees a concern for farmers worldwide."""


@pytest.fixture(scope="module")
def app_page(chromium, dist_site):
    """One booted app page shared by this module's tests (booting costs tens of seconds)."""
    errors: list[str] = []

    def record_errors(page: Page) -> None:
        page.on("pageerror", lambda err: errors.append(str(err)))

    with open_app(chromium, dist_site, viewport=VIEWPORT, before_load=record_errors) as page:
        page.page_errors = errors
        yield page


def test_boot_shows_progress_and_engine(chromium, dist_site) -> None:
    seen: list[str] = []

    def record_boot_texts(page: Page) -> None:
        page.expose_function("recordBootText", lambda text: seen.append(text))
        page.add_init_script("""
            new MutationObserver(() => {
                const el = document.getElementById('boot-text');
                if (el) window.recordBootText(el.textContent);
            }).observe(document, {subtree: true, childList: true, characterData: true});
        """)

    with open_app(chromium, dist_site, viewport=VIEWPORT, before_load=record_boot_texts) as page:
        assert any("Pyodide" in text for text in seen)
        assert any(re.search(r"Loading the model: [\d.]+ MB of 98\.4 MB", text) for text in seen)
        expect(page.locator("#boot")).to_be_hidden()
        expect(page.locator("#engine-info")).to_contain_text("SmolLM2")
        assert page.offline_guard.blocked == []


def test_summary_streams_from_the_real_model_offline(app_page: Page) -> None:
    page = app_page
    page.get_by_label("Document", exact=True).fill(HONEYBEES)
    expect(page.locator("#document-info")).to_contain_text("tokens")
    page.get_by_role("button", name="Summarize").click()

    result = page.get_by_label("Result")
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    lengths: list[int] = []
    while page.get_by_role("button", name="Stop").is_enabled():
        lengths.append(len(result.inner_text()))
        page.wait_for_timeout(150)

    summary = result.inner_text()
    assert len(set(n for n in lengths if n > 0)) >= 3, f"summary did not stream: {lengths}"
    assert re.search(r"\b(honey)?bees?\b|honeybee", summary, re.IGNORECASE), summary
    expect(page.locator("#stats")).to_contain_text(re.compile(r"\d+ prompt tokens · \d+ answer tokens"))
    expect(page.locator("#stats")).to_contain_text("tokens/s")
    assert page.locator("#result").get_attribute("aria-live") == "polite"
    page.screenshot(path=str(save_artifact("summary.png")), full_page=True)
    assert page.offline_guard.blocked == []
    assert page.page_errors == []


def test_stop_ends_generation_at_once(app_page: Page) -> None:
    page = app_page
    page.get_by_label("Document", exact=True).fill(HONEYBEES)
    page.get_by_label("Length").select_option("bullets")
    page.get_by_role("button", name="Summarize").click()
    result = page.get_by_label("Result")
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    expect(result).not_to_be_empty(timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled(timeout=1_000)
    stopped_text = result.inner_text()
    page.wait_for_timeout(1_000)
    assert result.inner_text() == stopped_text
    expect(page.locator("#stats")).to_contain_text("stopped")


def test_stop_during_the_prompt_is_immediate_and_the_next_run_works(app_page: Page) -> None:
    page = app_page
    page.get_by_label("Document", exact=True).fill(HONEYBEES)
    page.get_by_role("button", name="Summarize").click()
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled(timeout=1_000)
    page.get_by_label("Document", exact=True).fill("Mount Everest, at 8,849 metres, is the highest mountain on Earth.")
    page.get_by_label("Length").select_option("line")
    page.get_by_role("button", name="Summarize").click()
    wait_until_idle(page)
    assert re.search(r"everest|mountain", page.get_by_label("Result").inner_text(), re.IGNORECASE)


def test_empty_document_gets_a_message_and_keeps_input(app_page: Page) -> None:
    page = app_page
    page.get_by_label("Document", exact=True).fill("   \n  ")
    page.get_by_role("button", name="Summarize").click()
    expect(page.locator("#input-error")).to_contain_text("paste some text")
    assert page.get_by_label("Document", exact=True).input_value() == "   \n  "


def test_keyboard_only_use(app_page: Page) -> None:
    page = app_page
    page.get_by_label("Document", exact=True).fill("")
    page.get_by_label("Document", exact=True).focus()
    page.keyboard.type("The Eiffel Tower in Paris was completed in 1889 and is 330 metres tall.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "summary-length"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "summarize"
    page.keyboard.press("Enter")
    wait_until_idle(page)
    expect(page.get_by_label("Result")).not_to_be_empty()
    assert page.offline_guard.blocked == []
