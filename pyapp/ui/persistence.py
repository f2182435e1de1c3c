"""Keeps the workspace folder in IndexedDB: Pyodide's IDBFS mount, synced after each change.

If the browser refuses storage (private mode, quota exceeded), the workspace keeps working in
memory for this session and `problem` says why, for the page to show.
"""

from __future__ import annotations

import asyncio

import pyodide_js
from pyodide.ffi import create_once_callable

DATA_DIR = "/wordcalc-data"


def _syncfs(populate: bool) -> asyncio.Future:
    future = asyncio.get_event_loop().create_future()

    def done(err=None) -> None:
        if future.done():
            return
        if err:
            future.set_exception(OSError(str(getattr(err, "message", err))))
        else:
            future.set_result(None)

    pyodide_js.FS.syncfs(populate, create_once_callable(done))
    return future


class Persistence:
    def __init__(self) -> None:
        self.problem: str | None = None
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
            try:
                await _syncfs(False)
                self.problem = None
            except OSError as err:
                self.problem = f"Could not save to this browser's storage ({err}); documents stay in memory for now."
            if not self._again:
                return

    async def settled(self) -> None:
        """Wait until the last flush has finished (tests and the wipe button use it)."""
        while self._flushing is not None and not self._flushing.done():
            await self._flushing
