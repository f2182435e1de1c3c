"""The operations: Summarize, Extract facts, Ask, and the user's own instruction, with Stop.

Each runs an assistant operation and renders its events: progress ("chunk 3 of 12") in a status
line, streamed text as text nodes (model output is never parsed as HTML), and the final result:
facts with their verified quotes, answers with [n] citations that jump to the passage. Every
result is saved with its document and can be copied or exported as Markdown.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable

from pyodide.ffi import create_once_callable, create_proxy

import js
from pyapp import export
from pyapp.assistant import Assistant, Delta, Done, Event, Progress, Stopped
from pyapp.documents.ingest import InputError
from pyapp.documents.store import StoredDocument, StoredResult
from pyapp.engine.contract import EngineFailure
from pyapp.recipes.ask import Answer
from pyapp.recipes.extract import Extraction, Status, parse_fields
from pyapp.recipes.summarize import Length, Summary
from pyapp.retrieval.passages import Hit, Passage, PassageIndex, passages_of
from pyapp.ui.citations import excerpt, segments
from pyapp.ui.documents_panel import DocumentsPanel
from pyapp.ui.page import element
from pyapp.ui.status_text import stats_line

Result = Summary | Extraction | Answer | str
GPU_RESET_NOTICE = "The GPU was reset; reloading the model…"
# The box whose text an operation's InputError is about (a question too long, say).
INPUT_OF = {"ask": "question", "custom": "instruction"}


def create(tag: str, text: str = "", css_class: str = ""):
    node = js.document.createElement(tag)
    if text:
        node.textContent = text
    if css_class:
        node.className = css_class
    return node


class OperationsPanel:
    def __init__(self, assistant: Assistant, documents: DocumentsPanel) -> None:
        self.assistant = assistant
        self.documents = documents
        self.result = element("result")
        self.details = element("result-details")
        self.progress = element("progress")
        self.stats = element("stats")
        self.error = element("input-error")
        self.stop_button = element("stop")
        self.run_buttons = [element(i) for i in ("summarize", "extract", "ask", "run-instruction")]
        self.export_buttons = {i: element(i) for i in ("copy-result", "export-markdown", "copy-json", "copy-csv")}
        self.task: asyncio.Future | None = None
        # Builds the engine again after the GPU device was lost; returns what to tell the user.
        self.recover: Callable[[], Awaitable[str]] | None = None
        self.last: tuple[Result, str] | None = None
        self._passages: dict[str, tuple[str, list[Passage]]] = {}
        self._proxies = []
        self._on("summarize-form", "submit", self._summarize)
        self._on("extract-form", "submit", self._extract)
        self._on("ask-form", "submit", self._ask)
        self._on("custom-form", "submit", self._custom)
        self._on("stop", "click", lambda event: self.stop())
        self._on("copy-result", "click", lambda event: self._copy(self._markdown()))
        self._on("export-markdown", "click", lambda event: self._download())
        self._on("copy-json", "click", lambda event: self._copy(export.extraction_json(self.last[0])))
        self._on("copy-csv", "click", lambda event: self._copy(export.extraction_csv(self.last[0])))
        self._on("result-details", "click", self._on_details_click)
        self._on("result", "click", self._on_details_click)

    def _on(self, element_id: str, event_name: str, handler) -> None:
        proxy = create_proxy(handler)
        element(element_id).addEventListener(event_name, proxy)
        self._proxies.append(proxy)

    def enable(self) -> None:
        for button in self.run_buttons:
            button.disabled = False

    def use_assistant(self, assistant: Assistant) -> None:
        """Switch to another model's assistant (passages are cut with its tokenizer, so recut)."""
        self.stop()
        self.assistant = assistant
        self._passages.clear()

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.assistant.stop()

    # -- the four operations -------------------------------------------------------------

    def _summarize(self, event) -> None:
        event.preventDefault()
        length = Length(element("summary-length").value)
        self._launch("summarize", length.value,
                     lambda doc: self.assistant.summarize(doc.text, length))

    def _extract(self, event) -> None:
        event.preventDefault()
        fields_text = element("extract-fields").value
        fields = parse_fields(fields_text)
        self._launch("extract", fields_text.strip() or "facts",
                     lambda doc: self.assistant.extract(doc.text, fields))

    def _ask(self, event) -> None:
        event.preventDefault()
        question = element("question").value.strip()
        if not question:
            self._fail("Type a question first, in the Question box.", element("question"))
            return
        self._launch("ask", question, lambda doc: self._ask_events(question), needs_document=False)

    def _custom(self, event) -> None:
        event.preventDefault()
        instruction = element("instruction").value.strip()
        if not instruction:
            self._fail("Type an instruction first, in the Instruction box.", element("instruction"))
            return
        self._launch("custom", instruction, lambda doc: self.assistant.custom(instruction, doc.text))

    async def _ask_events(self, question: str) -> AsyncIterator[Event]:
        self.progress.textContent = "Searching your documents…"
        index = await PassageIndex.build(await self._all_passages())
        async for item in self.assistant.ask(question, index):
            yield item

    async def _all_passages(self) -> list[Passage]:
        passages: list[Passage] = []
        for doc in self.documents.docs:
            key = hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).hexdigest()
            cached = self._passages.get(doc.id)
            if cached is None or cached[0] != key:
                cached = (key, await passages_of(doc, self.assistant.count))
                self._passages[doc.id] = cached
            passages.extend(cached[1])
        return passages

    # -- running and rendering -------------------------------------------------------------

    def _fail(self, message: str, focus) -> None:
        self.error.textContent = message
        focus.focus()

    def _launch(self, operation: str, request: str, events: Callable[[StoredDocument | None], AsyncIterator[Event]],
                needs_document: bool = True) -> None:
        if self.task is not None and not self.task.done():
            return
        self.error.textContent = ""
        doc = None
        if needs_document or element("document").value.strip():
            try:
                doc = self.documents.commit()
            except InputError as err:
                self._fail(str(err), element("document"))
                return
        if operation == "ask" and not self.documents.docs:
            self._fail("There are no documents to ask about yet: paste or add one first.", element("document"))
            return
        self.task = asyncio.ensure_future(self._run(operation, request, events(doc), doc))

    async def _run(self, operation: str, request: str, events: AsyncIterator[Event], doc: StoredDocument | None) -> None:
        self._busy(True)
        final: Result | None = None
        stopped = False
        try:
            await self.documents.persistence.settled()  # the document is stored before the model runs
            async for item in events:
                if isinstance(item, Progress):
                    self.progress.textContent = f"Working on {item.label}…"
                elif isinstance(item, Delta):
                    self.result.appendChild(js.document.createTextNode(item.text))
                elif isinstance(item, Done):
                    final = item.result
                elif isinstance(item, Stopped):
                    stopped = True
        except InputError as err:
            self._fail(str(err), element(INPUT_OF.get(operation, "document")))
        except EngineFailure as err:
            if err.kind == "device-lost" and self.recover is not None:
                # The streamed part of the result stays on screen; the user runs it again.
                self.error.textContent = GPU_RESET_NOTICE
                self.error.textContent = await self.recover()
            else:
                self.error.textContent = err.user_message
        finally:
            self._busy(False)
        self.progress.textContent = "Stopped." if stopped else ""
        report = self.assistant.report
        if report is not None and report.stats is not None:
            self.stats.textContent = stats_line(report.n_prompt, report.stats)
        if final is not None:
            title = doc.title if doc is not None else "Answer"
            self.last = (final, title)
            self._render(final)
            if doc is not None:
                self.documents.record(doc, StoredResult(operation, request, self._markdown(), data=self._data(final)))
        self._show_exports()

    def _busy(self, busy: bool) -> None:
        for button in self.run_buttons:
            button.disabled = busy
        self.stop_button.disabled = not busy
        self.result.setAttribute("aria-busy", "true" if busy else "false")
        if busy:
            self.last = None
            self.result.textContent = ""
            self.details.replaceChildren()
            self.stats.textContent = ""
            self.result.classList.add("streaming")
        else:
            self.result.classList.remove("streaming")

    def _render(self, final: Result) -> None:
        if isinstance(final, Summary):
            self.result.textContent = final.text
            if final.n_chunks > 1:
                self.progress.textContent = f"Summarized in {final.n_chunks} parts."
            if final.truncated:
                self.progress.textContent += " Only the start of the document fit."
        elif isinstance(final, Extraction):
            self._render_extraction(final)
        elif isinstance(final, Answer):
            self._render_answer(final)
        else:
            self.result.textContent = final

    def _render_extraction(self, extraction: Extraction) -> None:
        self.result.textContent = (
            f"{len(extraction.items)} facts, {extraction.n_verified} with a quote found in the document."
            if extraction.items else "No facts were found.")
        listing = create("ul", css_class="facts")
        for item in extraction.items:
            row = create("li", css_class=f"fact {item.status.value}")
            label = f"{item.field}: {item.fact}" if item.field else item.fact
            row.appendChild(create("span", label, "fact-text"))
            if item.quote:
                row.appendChild(create("q", item.quote, "fact-quote"))
            if item.status is Status.VERIFIED and item.start is not None:
                show = create("button", "Show in document", "link-button")
                show.type = "button"
                show.dataset.start, show.dataset.end = str(item.start), str(item.end)
                row.appendChild(show)
            else:
                row.appendChild(create("span", "quote not found in the document — check this fact", "badge"))
            listing.appendChild(row)
        self.details.appendChild(listing)

    def _render_answer(self, answer: Answer) -> None:
        self.result.replaceChildren()
        if not answer.found:
            self.result.textContent = answer.text
            return
        for text, citation in segments(answer):
            if citation is None or citation.hit is None:
                self.result.appendChild(js.document.createTextNode(text))
                continue
            mark = create("button", text, "citation")
            mark.type = "button"
            mark.setAttribute("aria-label", f"Source {citation.number}: {citation.hit.passage.title}")
            self._point_at(mark, citation.hit)
            self.result.appendChild(mark)
        self.details.appendChild(create("h3", "Sources"))
        sources = create("ol", css_class="sources")
        for hit in answer.hits:
            entry = create("li")
            entry.appendChild(create("strong", hit.passage.title))
            entry.appendChild(create("blockquote", excerpt(hit.passage.text)))
            show = create("button", "Show in document", "link-button")
            show.type = "button"
            self._point_at(show, hit)
            entry.appendChild(show)
            sources.appendChild(entry)
        self.details.appendChild(sources)

    @staticmethod
    def _point_at(button, hit: Hit) -> None:
        button.dataset.docId = hit.passage.doc_id
        button.dataset.start, button.dataset.end = str(hit.passage.start), str(hit.passage.end)

    def _on_details_click(self, event) -> None:
        button = event.target.closest("button[data-start]")
        if button is None:
            return
        doc_id = button.dataset.docId
        if doc_id and (self.documents.current is None or self.documents.current.id != doc_id):
            target = next((d for d in self.documents.docs if d.id == doc_id), None)
            if target is None:
                return
            self.documents.select(target)
        highlight(element("document"), int(button.dataset.start), int(button.dataset.end))

    # -- copy and export -------------------------------------------------------------------

    def _markdown(self) -> str:
        result, title = self.last
        return export.markdown(result, title)

    @staticmethod
    def _data(result: Result) -> dict:
        if isinstance(result, Extraction):
            return {"items": [item.to_dict() for item in result.items], "fields": result.fields}
        if isinstance(result, Answer):
            return {"question": result.question, "sources": [h.passage.doc_id for h in result.hits]}
        if isinstance(result, Summary):
            return {"n_chunks": result.n_chunks, "truncated": result.truncated}
        return {}

    def _show_exports(self) -> None:
        has_result = self.last is not None
        self.export_buttons["copy-result"].hidden = not has_result
        self.export_buttons["export-markdown"].hidden = not has_result
        is_extraction = has_result and isinstance(self.last[0], Extraction)
        self.export_buttons["copy-json"].hidden = not is_extraction
        self.export_buttons["copy-csv"].hidden = not is_extraction

    def _copy(self, text: str) -> None:
        async def write() -> None:
            try:
                await js.navigator.clipboard.writeText(text)
                self.progress.textContent = "Copied."
            except Exception:  # noqa: BLE001 - clipboard permission refused
                self.progress.textContent = "The browser did not allow copying; use Export Markdown instead."

        asyncio.ensure_future(write())

    def _download(self) -> None:
        result, title = self.last
        blob = js.Blob.new([export.markdown(result, title)], js.Object.fromEntries([["type", "text/markdown"]]))
        url = js.URL.createObjectURL(blob)
        link = create("a")
        link.href = url
        link.download = f"{title[:60].strip() or 'wordcalc'}.md"
        link.click()
        js.setTimeout(create_once_callable(lambda: js.URL.revokeObjectURL(url)), 1000)


def highlight(textarea, start: int, end: int) -> None:
    """Select a span of the text area and scroll it into view (a textarea cannot hold <mark>)."""
    textarea.focus()
    textarea.setSelectionRange(start, start)
    textarea.blur()
    textarea.focus()
    textarea.setSelectionRange(start, end)
