"""Composition root: boot.mjs calls `start(boot)` once Python runs; this wires the pieces together.

Order: fetch the embedded model (with progress) -> open it (GGUF header, tokenizer, chat format,
engine; see model_session.py) -> enable the UI.
"""

from __future__ import annotations

import js
from pyapp.assistant import Assistant
from pyapp.documents.store import Workspace
from pyapp.engine.bridge import ModelFile
from pyapp.model_session import LOAD_ERRORS, load_failure_message, open_model
from pyapp.ui.documents_panel import DocumentsPanel
from pyapp.ui.handoff_panel import HandoffInbox, show_bookmarklet
from pyapp.ui.model_panel import ModelPanel
from pyapp.ui.operations_panel import OperationsPanel
from pyapp.ui.page import BootStatus, set_engine_label
from pyapp.ui.persistence import DATA_DIR, Persistence
from pyapp.ui.status_text import progress_label

ENGINE_PREFERENCES = ("auto", "webgpu", "wllama")


class Live:
    """The running app's panels, for scripts that drive the page (eval/, bench/)."""

    documents: DocumentsPanel | None = None
    operations: OperationsPanel | None = None


live = Live()
DEFAULT_ENGINE = "auto"


def engine_preference(params: dict) -> str:
    prefer = str(params.get("engine", DEFAULT_ENGINE))
    return prefer if prefer in ENGINE_PREFERENCES else DEFAULT_ENGINE


async def start(boot) -> None:
    status = BootStatus(boot.progress, boot.fail)
    params = boot.params.to_py()
    inbox = HandoffInbox.open(params)  # early: the bookmarklet waits for "ready"
    info = boot.buildInfo.model
    site = str(boot.siteBase)
    total_bytes = float(info.bytes)

    def on_progress(phase: str, loaded: float, total: float) -> None:
        if phase == "download":
            status.show(progress_label(phase, loaded, total or total_bytes), 0.2 + 0.6 * loaded / (total or total_bytes))
        else:
            status.show(progress_label(phase, loaded, total), 0.8 + 0.2 * (loaded / total if total else 0))

    prefer = engine_preference(params)
    wllama_assets = site + "vendor/wllama/"
    try:
        model_file = await ModelFile.fetch(boot.engineModule, site + str(info.url), on_progress)
        status.show("Reading the model's vocabulary and chat template…", 0.8)
        model = await open_model(boot.engineModule, model_file, str(info.name), prefer, wllama_assets, on_progress)
    except LOAD_ERRORS as err:
        status.fail(load_failure_message(err))
        return

    status.show("Opening your saved documents…", 0.98)
    persistence = await Persistence.mount()
    assistant = model.assistant()
    documents = DocumentsPanel(Workspace(DATA_DIR), persistence, assistant, boot.pdfModule)
    operations = OperationsPanel(assistant, documents)

    def switch_model(new_assistant: Assistant) -> None:
        operations.use_assistant(new_assistant)
        documents.use_assistant(new_assistant)

    model_panel = ModelPanel(boot.engineModule, model, prefer, wllama_assets, on_switch=switch_model)
    operations.recover = model_panel.recover
    live.documents, live.operations = documents, operations
    set_engine_label(model.label)
    status.finish()
    operations.enable()
    show_bookmarklet(str(boot.buildInfo.bookmarklet), site)
    if inbox is not None:
        inbox.ready_for_text(lambda page: documents.add(page.title or page.url, page.text, f"bookmarklet:{page.url}"))
    js.window.wordcalcBoot.readyMs = js.performance.now() - boot.bootStarted
    js.window.wordcalcBoot.engine = model.engine.info.kind
