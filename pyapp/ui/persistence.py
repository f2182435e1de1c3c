"""Keeps the workspace folder in IndexedDB: Pyodide's IDBFS mount, synced after each change.

If the browser refuses storage (private mode, quota exceeded), the workspace keeps working in
memory for this session and `problem` says why, for the page to show; `on_problem` is told each
time that changes. A failed save is not retried on its own: the next change saves everything
(IDBFS compares the whole folder), so nothing typed meanwhile is lost once there is room again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pyodide_js
from pyodide.ffi import create_once_callable

DATA_DIR = "/wordcalc-data"
STORAGE_FULL = ("Couldn't save to this browser: storage is full. Your documents stay on this page for now; "
                "free some space (delete a stored model, or other sites' data) and your next change is saved.")


class StorageFull(OSError):
    """IndexedDB refused a write for quota (QuotaExceededError)."""


def _syncfs(populate: bool) -> asyncio.Future:
    future = asyncio.get_event_loop().create_future()

    def done(err=None) -> None:
        if future.done():
            return
        if err:
            error = StorageFull if getattr(err, "name", None) == "QuotaExceededError" else OSError
            future.set_exception(error(str(getattr(err, "message", err))))
        else:
            future.set_result(None)

    pyodide_js.FS.syncfs(populate, create_once_callable(done))
    return future


class Persistence:
    def __init__(self) -> None:
        self.problem: str | None = None
        self.on_problem: Callable[[], None] | None = None
        self._flushing: asyncio.Future | None = None
        self._again = False

    @classmethod
    async def mount(cls) -> Persistence:
        """Mount DATA_DIR and load what an earlier visit saved."""
        persistence = cls()
        fs = pyodide_js.FS
        try:
            fs.mkdir(DATA_DIR)
        except Exception:  # noqa: BLE001 - already exists after a hot restart
            pass
        try:
            fs.mount(fs.filesystems.IDBFS, {}, DATA_DIR)
            await _syncfs(True)
        except Exception as err:  # noqa: BLE001 - any storage failure means: memory only
            persistence.problem = f"Documents are kept in memory only: the browser refused storage ({err})."
        return persistence

    def flush(self) -> None:
        """Write pending changes to IndexedDB soon; calls during a running sync coalesce."""
        if self._flushing is not None and not self._flushing.done():
            self._again = True
            return
        self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        while True:
            self._again = False
            before = self.problem
            try:
                await _syncfs(False)
                self.problem = None
            except StorageFull:
                self.problem = STORAGE_FULL
            except OSError as err:
                self.problem = f"Could not save to this browser's storage ({err}); documents stay in memory for now."
            if self.problem != before and self.on_problem is not None:
                self.on_problem()
            if not self._again:
                return

    async def settled(self) -> None:
        """Wait until the last flush has finished (tests and the wipe button use it)."""
        while self._flushing is not None and not self._flushing.done():
            await self._flushing
