"""The Documents panel: the saved workspace, adding files (pick or drop), switching, deleting.

The Document text area always shows the current document; `commit()` saves what is in it (a new
document, or the current one changed) before any operation runs, so nothing typed is lost.
"""

from __future__ import annotations

import asyncio
from pyodide.ffi import create_once_callable, create_proxy, to_js

import js
from pyapp.assistant import Assistant
from pyapp.documents.files import check_size, document_from_file, is_pdf
from pyapp.documents.ingest import MAX_DOCUMENT_CHARS, Document, InputError, document_from_paste
from pyapp.documents.pdf import PdfText, document_from_pdf
from pyapp.documents.store import StoredDocument, StoredResult, Workspace
from pyapp.ui.page import element
from pyapp.ui.persistence import Persistence
from pyapp.ui.status_text import document_info

WIPE_CONFIRM_MS = 5000
INFO_DELAY_MS = 250
# Counting tokens is synchronous (about 0.2 s per 100 KB in Pyodide): longer texts are counted
# by the operations themselves, in slices that keep the page responsive.
COUNT_LIMIT_CHARS = 100_000


def describe(doc: StoredDocument) -> str:
    tokens = f" · {doc.n_tokens:,} tokens" if doc.n_tokens is not None else ""
    return f"{len(doc.text):,} characters{tokens}"


class DocumentsPanel:
    def __init__(self, workspace: Workspace, persistence: Persistence, assistant: Assistant, pdf_module) -> None:
        self.workspace = workspace
        self.pdf_module = pdf_module  # site/pdf-text.mjs
        self.persistence = persistence
        self.assistant = assistant
        self.docs = workspace.load_all()
        self.current: StoredDocument | None = None
        self.textarea = element("document")
        self.list = element("document-list")
        self.error = element("documents-error")
        self.note = element("storage-note")
        self.info = element("document-info")
        self._info_timer = None
        self.wipe_button = element("wipe-all")
        self.wipe_armed = False
        self._proxies = []
        self._listen(element("new-document"), "click", lambda e: self.new_document())
        self._listen(element("document-files"), "change", self._on_pick)
        self._listen(self.wipe_button, "click", lambda e: self._on_wipe())
        self._listen(self.textarea, "dragover", lambda e: e.preventDefault())
        self._listen(self.textarea, "drop", self._on_drop)
        self._listen(self.list, "click", self._on_list_click)
        self._listen(self.textarea, "input", lambda e: self._schedule_info())
        self._listen(self.textarea, "paste", self._on_paste)
        persistence.on_problem = self._show_storage_note
        if workspace.skipped:
            self.error.textContent = f"{len(workspace.skipped)} saved document(s) could not be read and were skipped."
        self.render()
        if self.docs:
            self.select(self.docs[0])

    def _listen(self, target, event_name: str, handler) -> None:
        proxy = create_proxy(handler)
        target.addEventListener(event_name, proxy)
        self._proxies.append(proxy)

    def _on_list_click(self, event) -> None:
        """One listener for every row (event delegation): rows are rebuilt on each render."""
        button = event.target.closest("button[data-doc-id]")
        if button is None:
            return
        doc = next((d for d in self.docs if d.id == button.dataset.docId), None)
        if doc is None:
            return
        if button.dataset.action == "delete":
            self.delete(doc)
        else:
            self.select(doc)

    def render(self) -> None:
        self.list.replaceChildren()
        for doc in self.docs:
            item = js.document.createElement("li")
            open_button = js.document.createElement("button")
            open_button.type = "button"
            open_button.className = "doc-open"
            open_button.textContent = doc.title
            if doc is self.current:
                open_button.setAttribute("aria-current", "true")
            meta = js.document.createElement("span")
            meta.className = "doc-meta"
            meta.textContent = describe(doc)
            delete_button = js.document.createElement("button")
            delete_button.type = "button"
            delete_button.className = "doc-delete"
            delete_button.textContent = "Delete"
            delete_button.setAttribute("aria-label", f"Delete {doc.title}")
            open_button.dataset.docId = delete_button.dataset.docId = doc.id
            open_button.dataset.action, delete_button.dataset.action = "open", "delete"
            item.append(open_button, meta, delete_button)
            self.list.appendChild(item)
        self._show_storage_note()

    def _show_storage_note(self) -> None:
        problem = self.persistence.problem
        self.note.textContent = problem or (
            f"{len(self.docs)} document(s) saved in this browser only." if self.docs else "Nothing saved yet.")
        self.note.classList.toggle("error", problem is not None)

    def count(self, text: str) -> int | None:
        return self.assistant.count(text) if len(text) <= COUNT_LIMIT_CHARS else None

    def use_assistant(self, assistant: Assistant) -> None:
        """Another model was loaded: token counts are its tokenizer's from now on."""
        self.assistant = assistant
        for doc in self.docs:
            doc.n_tokens = None
        self.render()
        self._update_info()

    def _schedule_info(self) -> None:
        """Recount and save after typing pauses: doing it on every key would lag."""
        if self._info_timer is not None:
            js.clearTimeout(self._info_timer)
        self._info_timer = js.setTimeout(create_once_callable(self._autosave), INFO_DELAY_MS)

    def _update_info(self) -> None:
        self._info_timer = None
        text = self.textarea.value
        self.info.textContent = document_info(len(text), self.count(text), self.assistant.n_ctx) if text.strip() else ""

    def _autosave(self) -> None:
        """Typing pauses: keep the text (a draft is a document too), so a reload loses nothing."""
        self._update_info()
        try:
            self.commit()
        except InputError:
            pass

    def select(self, doc: StoredDocument) -> None:
        self.current = doc
        self.textarea.value = doc.text
        self.render()
        self._update_info()

    def new_document(self) -> None:
        self.current = None
        self.textarea.value = ""
        self.render()
        self._update_info()
        self.textarea.focus()

    def commit(self) -> StoredDocument:
        """Save the text area as the current document (raises InputError when it is unusable)."""
        doc = document_from_paste(self.textarea.value)
        current = self.current
        if current is None or current.text != doc.text:
            if current is None:
                current = StoredDocument.new(doc.title, doc.text)
                self.docs.insert(0, current)
            else:
                current.text, current.title = doc.text, doc.title
            current.n_tokens = self.count(doc.text)
            self.current = current
            self._save(current)
        return current

    def add(self, title: str, text: str, source: str) -> StoredDocument:
        doc = StoredDocument.new(title, text, source=source)
        doc.n_tokens = self.count(text)
        self.docs.insert(0, doc)
        self._save(doc)
        self.select(doc)
        return doc

    def record(self, doc: StoredDocument, result: StoredResult) -> None:
        doc.results.append(result)
        self._save(doc)

    def _save(self, doc: StoredDocument) -> None:
        self.workspace.save(doc)
        self.persistence.flush()
        self.render()

    def delete(self, doc: StoredDocument) -> None:
        self.workspace.delete(doc.id)
        self.docs = [d for d in self.docs if d is not doc]
        self.persistence.flush()
        if doc is self.current:
            self.new_document()
        else:
            self.render()

    def _on_wipe(self) -> None:
        if not self.wipe_armed:
            self.wipe_armed = True
            self.wipe_button.textContent = "Press again to delete every document and result"
            js.setTimeout(create_once_callable(self._disarm), WIPE_CONFIRM_MS)
            return
        self._disarm()
        self.workspace.wipe()
        self.docs = []
        self.persistence.flush()
        self.new_document()
        self.note.textContent = "Everything was deleted from this browser."

    def _disarm(self) -> None:
        self.wipe_armed = False
        self.wipe_button.textContent = "Delete everything"

    def _on_paste(self, event) -> None:
        """Refuse an oversized paste before it reaches the text area (tens of MB freeze the page)."""
        pasted = event.clipboardData.getData("text")
        room = MAX_DOCUMENT_CHARS - len(self.textarea.value)
        if len(pasted) > room:
            event.preventDefault()
            element("input-error").textContent = (
                f"That paste has {len(pasted):,} characters; a document can hold up to {MAX_DOCUMENT_CHARS:,}. "
                "Paste a part of it, or add it as a file to have it read in parts.")

    def _on_pick(self, event) -> None:
        files = [event.target.files.item(i) for i in range(event.target.files.length)]
        asyncio.ensure_future(self.add_files(files))
        event.target.value = ""

    def _on_drop(self, event) -> None:
        files = event.dataTransfer.files
        if files.length:
            event.preventDefault()
            asyncio.ensure_future(self.add_files([files.item(i) for i in range(files.length)]))

    async def add_files(self, files) -> None:
        problems = []
        for file in files:
            name = str(file.name)
            try:
                doc = await self._read(name, file)
            except InputError as err:
                problems.append(str(err) if name in str(err) else f"{name}: {err}")
                continue
            self.add(doc.title, doc.text, f"file:{name}")
            await asyncio.sleep(0)
        self.error.textContent = " ".join(problems)

    async def _read(self, name: str, file) -> Document:
        """A PDF's bytes stay in JavaScript, where pdf.js reads them; other files come to Python."""
        if not is_pdf(name):
            return document_from_file(name, (await file.arrayBuffer()).to_bytes())
        check_size(name, int(file.size))
        found = await self.pdf_module.pdfText(file, to_js({"maxChars": MAX_DOCUMENT_CHARS},
                                                          dict_converter=js.Object.fromEntries))
        return document_from_pdf(name, PdfText.of(found))
