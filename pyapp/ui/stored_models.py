"""The Model panel's list of models stored in this browser (each with Load and Delete) and the
storage estimate beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pyodide.ffi import create_proxy

import js
from pyapp.engine.bridge import ModelStore
from pyapp.model.stored import StoredModel
from pyapp.ui.page import element
from pyapp.ui.stored_text import size_label, storage_line


def _button(text: str, label: str, url: str, action: str):
    button = js.document.createElement("button")
    button.type = "button"
    button.textContent = text
    button.setAttribute("aria-label", label)
    button.dataset.url = url
    button.dataset.action = action
    return button


class StoredModelsList:
    def __init__(self, store: ModelStore, on_load: Callable[[StoredModel], None],
                 on_delete: Callable[[StoredModel], None]) -> None:
        self.store = store
        self.on_load = on_load
        self.on_delete = on_delete
        self.list = element("stored-models")
        self.note = element("model-storage")
        self.models: list[StoredModel] = []
        self._proxies = [create_proxy(self._on_click), create_proxy(self._on_toggle)]
        self.list.addEventListener("click", self._proxies[0])
        element("model-panel").addEventListener("toggle", self._proxies[1])

    async def refresh(self) -> None:
        self.models = sorted(await self.store.models(), key=lambda m: m.name.lower())
        estimate = await self.store.estimate()
        self.list.replaceChildren()
        for model in self.models:
            item = js.document.createElement("li")
            name = js.document.createElement("span")
            name.className = "stored-name"
            name.textContent = model.name
            name.title = model.url
            size = js.document.createElement("span")
            size.className = "stored-size"
            size.textContent = size_label(model)
            item.append(name, size, _button("Load", f"Load {model.name}", model.url, "load"),
                        _button("Delete", f"Delete {model.name}", model.url, "delete"))
            self.list.appendChild(item)
        self.note.textContent = "" if estimate is None else storage_line(estimate, self.models)
        if estimate is not None:
            self.note.dataset.usage = str(estimate.usage)

    def _on_toggle(self, event) -> None:
        """Fresh figures each time the panel opens: another tab may have changed the store, and
        the browser gives a deleted model's space back only once nothing uses it any more."""
        if event.target.open:
            asyncio.ensure_future(self.refresh())

    def _on_click(self, event) -> None:
        """One listener for every row (event delegation): rows are rebuilt on each refresh."""
        button = event.target.closest("button[data-action]")
        model = None if button is None else next((m for m in self.models if m.url == button.dataset.url), None)
        if model is None:
            return
        (self.on_delete if button.dataset.action == "delete" else self.on_load)(model)
