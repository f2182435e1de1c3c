"""The FFI bridge: calls site/engine/index.mjs from Python and streams its pieces back.

Needs Pyodide (it imports pyodide.ffi), so it is exercised by the browser tests; everything it
passes across is defined in contract.py and unit-tested there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from pyodide.ffi import JsException, create_proxy, to_js

import js
from pyapp.engine.contract import CompletionRequest, CompletionStats, EngineFailure, EngineInfo, Piece
from pyapp.model.stored import StorageEstimate, StoredModel

ProgressCallback = Callable[[str, float, float], None]


def _to_js(value: Any):
    return to_js(value, dict_converter=js.Object.fromEntries)


def engine_failure(err: Exception) -> EngineFailure:
    """Turn a JS EngineError (or any JS/Python error) into an EngineFailure."""
    if isinstance(err, EngineFailure):
        return err
    js_error = getattr(err, "js_error", err) if isinstance(err, JsException) else None
    kind = getattr(js_error, "kind", None) if js_error is not None else None
    if isinstance(kind, str):
        return EngineFailure(kind, str(getattr(js_error, "message", "")), getattr(js_error, "detail", None))
    return EngineFailure("internal", str(err))


def _progress_proxy(on_progress: ProgressCallback | None):
    def report(event) -> None:
        if on_progress is not None:
            on_progress(str(event.phase), float(event.loaded), float(event.total or 0))

    return create_proxy(report)


class ModelFile:
    """A model's bytes held by the JS side (a Blob); Python reads only the ranges it asks for.

    `not_stored` says why a model that was to be kept in the browser is not ("quota",
    "unavailable"); it is None when it was kept or was never meant to be.
    """

    def __init__(self, engine_module, blob, size: int, not_stored: str | None = None) -> None:
        self._module = engine_module
        self.blob = blob
        self.size = size
        self.not_stored = not_stored

    @classmethod
    async def fetch(cls, engine_module, url: str, on_progress: ProgressCallback | None = None,
                    store: bool = False, sha256: str | None = None) -> ModelFile:
        """Download `url`; with `store`, keep it in (or take it from) the browser's model store."""
        proxy = _progress_proxy(on_progress)
        try:
            result = await engine_module.fetchModel(
                url, _to_js({"onProgress": proxy, "store": store, "sha256": sha256}))
        except JsException as err:
            raise engine_failure(err) from None
        finally:
            proxy.destroy()
        return cls(engine_module, result.blob, int(result.blob.size),
                   None if result.notStored is None else str(result.notStored))

    async def read(self, start: int, end: int) -> bytes:
        chunk = await self._module.readBytes(self.blob, start, min(end, self.size))
        return chunk.to_bytes()


class ModelStore:
    """The models kept in this browser (site/model-store.mjs)."""

    def __init__(self, engine_module) -> None:
        self._module = engine_module

    async def models(self) -> list[StoredModel]:
        listed = await self._module.listStoredModels()
        return [StoredModel(url=str(m.url), bytes=None if m.bytes is None else int(m.bytes),
                            stored_bytes=int(m.storedBytes), sha256=None if m.sha256 is None else str(m.sha256),
                            complete=bool(m.complete)) for m in listed]

    async def delete(self, url: str) -> None:
        await self._module.deleteStoredModel(url)

    async def estimate(self) -> StorageEstimate | None:
        found = await self._module.storageEstimate()
        if found is None:
            return None
        return StorageEstimate(usage=int(found.usage), quota=int(found.quota), persisted=bool(found.persisted))


class Engine:
    """A loaded inference engine (WebGPU or CPU fallback) behind the one JS interface."""

    def __init__(self, js_engine, info: EngineInfo) -> None:
        self._js = js_engine
        self.info = info
        self.last_stats: CompletionStats | None = None

    @classmethod
    async def create(cls, engine_module, model: ModelFile, prefer: str, wllama_assets: str, n_ctx: int,
                     on_progress: ProgressCallback | None = None, reason: str | None = None) -> Engine:
        """`reason` overrides why the CPU engine runs (it took over a model the GPU engine refused)."""
        proxy = _progress_proxy(on_progress)
        try:
            js_engine = await engine_module.createEngine(
                _to_js({"prefer": prefer, "wllamaAssets": wllama_assets, "nCtx": n_ctx, "reason": reason})
            )
            loaded = await js_engine.load(model.blob, _to_js({"onProgress": proxy}))
        except JsException as err:
            raise engine_failure(err) from None
        finally:
            proxy.destroy()
        info = EngineInfo(
            kind=str(js_engine.kind),
            reason=str(js_engine.reason or ""),
            accepts_tokens=bool(js_engine.acceptsTokens),
            arch=str(loaded.arch),
            n_ctx=int(loaded.nCtx),
        )
        return cls(js_engine, info)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Piece]:
        """Yield pieces as the engine produces them; afterwards `last_stats` holds the run's figures."""
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        def on_piece(piece) -> None:
            queue.put_nowait(Piece(id=None if piece.id is None else int(piece.id),
                                   text=None if piece.text is None else str(piece.text)))

        proxy = create_proxy(on_piece)
        fields = request.to_js_fields()
        fields["onPiece"] = proxy
        future = asyncio.ensure_future(self._js.complete(_to_js(fields)))
        future.add_done_callback(lambda _: queue.put_nowait(done))
        try:
            while (item := await queue.get()) is not done:
                yield item
            try:
                result = future.result()
            except JsException as err:
                raise engine_failure(err) from None
            self.last_stats = CompletionStats(
                stop_reason=str(result.stopReason),
                n_prompt=None if result.nPrompt is None else int(result.nPrompt),
                n_generated=int(result.nGenerated),
                first_token_ms=None if result.firstTokenMs is None else float(result.firstTokenMs),
                total_ms=float(result.totalMs),
            )
        finally:
            if not future.done():
                self.cancel()
                await asyncio.wait([future])
            proxy.destroy()

    def cancel(self) -> None:
        self._js.cancel()

    async def unload(self) -> None:
        await self._js.unload()
