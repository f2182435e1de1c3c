"""The CPU engine uses several threads where the page is cross-origin isolated, one elsewhere, and
the engine line says which — a user who wonders why answers are slow can see it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import DIST, OfflineGuard, serve_folder

pytestmark = pytest.mark.browser

BOOT_TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def isolated_site():
    served = serve_folder(DIST, isolation_headers=True)
    yield served
    served.close()


def test_isolated_page_runs_the_cpu_engine_on_several_threads(chromium, isolated_site) -> None:
    context = chromium.new_context()
    guard = OfflineGuard(allowed_origins={isolated_site.origin})
    guard.install(context)
    page = context.new_page()
    page.goto(isolated_site.url)
    expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("crossOriginIsolated")
    threads = page.evaluate("Math.min(navigator.hardwareConcurrency, 4)")
    label = "1 thread" if threads == 1 else f"{threads} threads"
    expect(page.locator("#engine-info")).to_contain_text("wllama-cpu")
    expect(page.locator("#engine-info")).to_contain_text(label)

    page.get_by_label("Document", exact=True).fill("The Danube flows through ten countries, more than any other river.")
    page.get_by_label("Length").select_option("line")
    page.get_by_role("button", name="Summarize").click()
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled(timeout=240_000)
    expect(page.get_by_label("Result")).not_to_be_empty()
    assert guard.blocked == []
    context.close()


def test_page_without_isolation_says_it_runs_one_thread(app_context, dist_site) -> None:
    page = app_context.new_page()
    page.goto(dist_site.url)
    expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    expect(page.locator("#engine-info")).to_contain_text("1 thread (the page is not cross-origin isolated)")
