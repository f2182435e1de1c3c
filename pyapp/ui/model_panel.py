"""The Model panel: load another GGUF model from a file or a URL, with progress and clear refusals.

The current model stays in use until the new one has loaded; a failed load changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pyodide.ffi import create_proxy

import js
from pyapp.assistant import Assistant
from pyapp.engine.bridge import ModelFile
from pyapp.model.sources import ModelSourceError, resolve_model_url
from pyapp.model_session import LOAD_ERRORS, LoadedModel, load_failure_message, open_model
from pyapp.ui.page import element, set_engine_label
from pyapp.ui.status_text import progress_label


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
        self.load_button = element("load-model-url")
        self.status = element("model-status")
        self.error = element("model-error")
        element("model-name").textContent = model.name
        self.task: asyncio.Future | None = None
        self._proxies = [create_proxy(self._on_file), create_proxy(self._on_url)]
        self.file_input.addEventListener("change", self._proxies[0])
        self.load_button.addEventListener("click", self._proxies[1])

    def _on_file(self, event) -> None:
        files = self.file_input.files
        if files.length:
            picked = files.item(0)
            self._start(lambda: self._from_blob(picked), str(picked.name))

    def _on_url(self, event) -> None:
        try:
            url = resolve_model_url(self.url_input.value, str(js.location.href))
        except ModelSourceError as err:
            self.error.textContent = str(err)
            return
        self._start(lambda: ModelFile.fetch(self.engine_module, url, self._progress), url.rsplit("/", 1)[-1])

    async def _from_blob(self, blob) -> ModelFile:
        return ModelFile(self.engine_module, blob, int(blob.size))

    def _progress(self, phase: str, loaded: float, total: float) -> None:
        self.status.textContent = progress_label(phase, loaded, total)

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
        old, self.model = self.model, new
        self.on_switch(new.assistant())
        await old.engine.unload()
        element("model-name").textContent = new.name
        set_engine_label(new.label)
        self.status.textContent = f"Loaded {new.name}."
