"""The CPU engine uses several threads where the page is cross-origin isolated, one elsewhere, and
the engine line says which — a user who wonders why answers are slow can see it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_app, wait_until_idle
from tests.conftest import DIST, serve_folder

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def isolated_site():
    served = serve_folder(DIST, isolation_headers=True)
    yield served
    served.close()


def test_isolated_page_runs_the_cpu_engine_on_several_threads(chromium, isolated_site) -> None:
    with open_app(chromium, isolated_site) as page:
        assert page.evaluate("crossOriginIsolated")
        threads = page.evaluate("Math.min(navigator.hardwareConcurrency, 4)")
        label = "1 thread" if threads == 1 else f"{threads} threads"
        expect(page.locator("#engine-info")).to_contain_text("wllama-cpu")
        expect(page.locator("#engine-info")).to_contain_text(label)

        page.get_by_label("Document", exact=True).fill("The Danube flows through ten countries, more than any other river.")
        page.get_by_label("Length").select_option("line")
        page.get_by_role("button", name="Summarize").click()
        wait_until_idle(page)
        expect(page.get_by_label("Result")).not_to_be_empty()
        assert page.offline_guard.blocked == []


def test_page_without_isolation_says_it_runs_one_thread(chromium, dist_site) -> None:
    with open_app(chromium, dist_site, viewport={"width": 1200, "height": 900}) as page:
        expect(page.locator("#engine-info")).to_contain_text("1 thread (the page is not cross-origin isolated)")
