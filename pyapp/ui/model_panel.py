"""The Model panel: load another GGUF model from a file or a URL, with progress and clear refusals.

The current model stays in use until the new one has loaded; a failed load changes nothing.
Models loaded by URL are kept in the browser (site/model-store.mjs), so loading one again needs
no network; the panel lists them and deletes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pyodide.ffi import create_proxy

import js
from pyapp.assistant import Assistant
from pyapp.engine.bridge import ModelFile, ModelStore
from pyapp.model.sources import ModelSourceError, resolve_model_url
from pyapp.model.stored import ChecksumError, StoredModel, model_name, split_sha256
from pyapp.model_session import LOAD_ERRORS, LoadedModel, load_failure_message, open_model, reopen_model
from pyapp.ui.page import element, set_engine_label
from pyapp.ui.status_text import progress_label
from pyapp.ui.stored_models import StoredModelsList
from pyapp.ui.stored_text import not_stored_note, store_progress_label


class ModelPanel:
    def __init__(self, engine_module, model: LoadedModel, prefer: str, wllama_assets: str,
                 on_switch: Callable[[Assistant], None]) -> None:
        self.engine_module = engine_module
        self.model = model
        self.prefer = prefer
        self.wllama_assets = wllama_assets
        self.on_switch = on_switch
        self.file_input = element("model-file")
        self.url_input = element("model-url")
        self.sha256_input = element("model-sha256")
        self.load_button = element("load-model-url")
        self.status = element("model-status")
        self.error = element("model-error")
        element("model-name").textContent = model.name
        self.task: asyncio.Future | None = None
        self._proxies = [create_proxy(self._on_file), create_proxy(self._on_url)]
        self.file_input.addEventListener("change", self._proxies[0])
        self.load_button.addEventListener("click", self._proxies[1])
        self.store = ModelStore(engine_module)
        self.stored = StoredModelsList(self.store, self._on_stored, self._on_delete)
        asyncio.ensure_future(self.stored.refresh())

    def _on_file(self, event) -> None:
        files = self.file_input.files
        if files.length:
            picked = files.item(0)
            self._start(lambda: self._from_blob(picked), str(picked.name))

    def _on_url(self, event) -> None:
        try:
            url = resolve_model_url(self.url_input.value, str(js.location.href))
            url, sha256 = split_sha256(url, str(self.sha256_input.value))
        except (ModelSourceError, ChecksumError) as err:
            self.error.textContent = str(err)
            return
        self._start_download(url, sha256)

    def _on_stored(self, model: StoredModel) -> None:
        self._start_download(model.url, None)

    def _on_delete(self, model: StoredModel) -> None:
        if self.task is not None and not self.task.done():
            self.error.textContent = "Wait until the model being loaded is ready, then delete."
            return
        self.task = asyncio.ensure_future(self._delete(model))

    async def _delete(self, model: StoredModel) -> None:
        self.error.textContent = ""
        await self.store.delete(model.url)
        self.status.textContent = f"Deleted the stored copy of {model.name}."
        await self.stored.refresh()

    def _start_download(self, url: str, sha256: str | None) -> None:
        self._start(lambda: ModelFile.fetch(self.engine_module, url, self._progress, store=True, sha256=sha256),
                    model_name(url))

    async def _from_blob(self, blob) -> ModelFile:
        return ModelFile(self.engine_module, blob, int(blob.size))

    def _progress(self, phase: str, loaded: float, total: float) -> None:
        self.status.textContent = store_progress_label(phase, loaded, total) or progress_label(phase, loaded, total)

    def _start(self, open_file: Callable[[], Awaitable[ModelFile]], name: str) -> None:
        if self.task is not None and not self.task.done():
            return
        self.task = asyncio.ensure_future(self._load(open_file, name))

    async def _load(self, open_file: Callable[[], Awaitable[ModelFile]], name: str) -> None:
        self.error.textContent = ""
        self.status.textContent = f"Loading {name}…"
        self.load_button.disabled = True
        self.file_input.disabled = True
        try:
            model_file = await open_file()
            new = await open_model(self.engine_module, model_file, name, self.prefer, self.wllama_assets, self._progress)
        except LOAD_ERRORS as err:
            self.status.textContent = ""
            self.error.textContent = f"{load_failure_message(err)} The current model ({self.model.name}) is still in use."
            return
        finally:
            self.load_button.disabled = False
            self.file_input.disabled = False
            await self.stored.refresh()
        await self._switch(new)
        self.status.textContent = f"Loaded {new.name}.{not_stored_note(model_file.not_stored)}"

    async def _switch(self, new: LoadedModel) -> None:
        old, self.model = self.model, new
        self.on_switch(new.assistant())
        await old.engine.unload()
        element("model-name").textContent = new.name
        set_engine_label(new.label)

    async def recover(self) -> str:
        """The GPU was reset under the current model: build its engine again from the bytes this
        page already holds (no download, no reload). Returns what to tell the user."""
        try:
            new = await reopen_model(self.engine_module, self.model, self.prefer, self.wllama_assets, self._progress)
        except LOAD_ERRORS as err:
            return f"The GPU was reset. {load_failure_message(err)} Reload the page to try again."
        finally:
            self.status.textContent = ""
        await self._switch(new)
        return "The GPU was reset; the model was loaded again. Your text and the partial result are kept: run it again."
