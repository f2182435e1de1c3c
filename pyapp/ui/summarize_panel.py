"""The Summarize panel: Document text area, Length, Summarize and Stop buttons, streamed result.

Model output is appended as text nodes, never parsed as HTML. What the user typed is never
cleared or changed by a failure.
"""

from __future__ import annotations

import asyncio

from pyodide.ffi import create_proxy

import js
from pyapp.assistant import Assistant
from pyapp.documents.ingest import InputError, document_from_paste
from pyapp.engine.contract import EngineFailure
from pyapp.recipes.summarize import Length
from pyapp.ui.page import element
from pyapp.ui.status_text import document_info, stats_line


class SummarizePanel:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.form = element("summarize-form")
        self.document = element("document")
        self.length = element("summary-length")
        self.summarize_button = element("summarize")
        self.stop_button = element("stop")
        self.result = element("result")
        self.stats = element("stats")
        self.error = element("input-error")
        self.info = element("document-info")
        self.task: asyncio.Future | None = None
        self._proxies = [
            self._listen(self.form, "submit", self._on_submit),
            self._listen(self.stop_button, "click", lambda event: self.stop()),
            self._listen(self.document, "input", lambda event: self._update_info()),
        ]

    @staticmethod
    def _listen(target, event_name: str, handler):
        proxy = create_proxy(handler)
        target.addEventListener(event_name, proxy)
        return proxy

    def use_assistant(self, assistant: Assistant) -> None:
        """Switch to another model's assistant (after the Model panel loaded one)."""
        self.stop()
        self.assistant = assistant
        self._update_info()

    def enable(self) -> None:
        self.summarize_button.disabled = False
        self._update_info()

    def _update_info(self) -> None:
        text = self.document.value
        if not text.strip():
            self.info.textContent = ""
            return
        n_ctx = self.assistant.engine.info.n_ctx
        self.info.textContent = document_info(len(text), self.assistant.count(text), n_ctx)

    def _on_submit(self, event) -> None:
        event.preventDefault()
        if self.task is not None and not self.task.done():
            return
        self.task = asyncio.ensure_future(self.run())

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.assistant.stop()

    async def run(self) -> None:
        self.error.textContent = ""
        try:
            doc = document_from_paste(self.document.value)
        except InputError as err:
            self.error.textContent = str(err)
            self.document.focus()
            return
        self.summarize_button.disabled = True
        self.stop_button.disabled = False
        self.result.textContent = ""
        self.stats.textContent = ""
        self.result.classList.add("streaming")
        self.result.setAttribute("aria-busy", "true")
        try:
            async for text in self.assistant.summarize(doc.text, Length(self.length.value)):
                self.result.appendChild(js.document.createTextNode(text))
        except EngineFailure as err:
            self.error.textContent = err.user_message
        finally:
            self.result.classList.remove("streaming")
            self.result.setAttribute("aria-busy", "false")
            self.summarize_button.disabled = False
            self.stop_button.disabled = True
        report = self.assistant.report
        if report is not None and report.stats is not None:
            line = stats_line(report.n_prompt, report.stats)
            if report.truncated_document:
                line += " · only the start of the document fit"
            self.stats.textContent = line
