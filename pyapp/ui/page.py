"""The page's fixed elements (static in index.html, so their accessible names exist before boot)."""

from __future__ import annotations

import js


def element(element_id: str):
    found = js.document.getElementById(element_id)
    if found is None:
        raise LookupError(f"index.html has no element #{element_id}")
    return found


class BootStatus:
    """The boot progress bar, taken over from boot.mjs once Python runs."""

    def __init__(self, progress_fn, fail_fn) -> None:
        self._progress = progress_fn
        self._fail = fail_fn

    def show(self, label: str, fraction: float | None = None) -> None:
        self._progress(label, fraction)

    def fail(self, message: str) -> None:
        self._fail(message)

    def finish(self) -> None:
        element("boot").hidden = True


def set_engine_label(text: str) -> None:
    element("engine-info").textContent = text
