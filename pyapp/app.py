"""Composition root: boot.mjs calls `start(boot)` once Python runs; this wires the pieces together.

Order: fetch the model (with progress) -> read its GGUF header in Python -> build tokenizer and
chat format -> pick and load an engine -> enable the UI.
"""

from __future__ import annotations

import js
from pyapp.assistant import Assistant
from pyapp.engine.bridge import Engine, ModelFile
from pyapp.engine.contract import EngineFailure
from pyapp.model.chat import ChatFormat
from pyapp.model.gguf import GGUFError, GGUFHeader, GGUFTruncated, read_header
from pyapp.model.tokenizer import StreamDecoder, Tokenizer, TokenizerError
from pyapp.ui.page import BootStatus, set_engine_label
from pyapp.ui.status_text import progress_label
from pyapp.ui.summarize_panel import SummarizePanel

HEADER_PROBE_BYTES = 4 << 20
MAX_CONTEXT = 4096
ENGINE_PREFERENCES = ("auto", "webgpu", "wllama")
DEFAULT_ENGINE = "wllama"


async def read_model_header(model: ModelFile) -> GGUFHeader:
    """Parse the header from the first megabytes, reading more only if the header is longer."""
    size = HEADER_PROBE_BYTES
    while True:
        try:
            return read_header(await model.read(0, size))
        except GGUFTruncated as short:
            if size >= model.size:
                raise GGUFError("the file ends inside its GGUF header (it is truncated)") from None
            size = max(short.needed + (1 << 20), size * 2)


def chat_format_for(header: GGUFHeader, tokenizer: Tokenizer) -> ChatFormat:
    def text_of(token_id: int | None) -> str:
        return "" if token_id is None else tokenizer.token_bytes(token_id).decode("utf-8", "replace")

    return ChatFormat(header.metadata.get("tokenizer.chat_template"),
                      bos_token=text_of(tokenizer.bos_id), eos_token=text_of(tokenizer.eos_id))


async def start(boot) -> None:
    status = BootStatus(boot.progress, boot.fail)
    info = boot.buildInfo.model
    site = str(boot.siteBase)
    total_bytes = float(info.bytes)

    def on_progress(phase: str, loaded: float, total: float) -> None:
        if phase == "download":
            status.show(progress_label(phase, loaded, total or total_bytes), 0.2 + 0.6 * loaded / (total or total_bytes))
        else:
            status.show(progress_label(phase, loaded, total), 0.8 + 0.2 * (loaded / total if total else 0))

    prefer = str(boot.params.to_py().get("engine", DEFAULT_ENGINE))
    if prefer not in ENGINE_PREFERENCES:
        prefer = DEFAULT_ENGINE
    try:
        model = await ModelFile.fetch(boot.engineModule, site + str(info.url), on_progress)
        status.show("Reading the model's vocabulary and chat template…", 0.8)
        header = await read_model_header(model)
        tokenizer = Tokenizer.from_gguf(header)
        n_ctx = min(int(header.arch_value("context_length", 2048)), MAX_CONTEXT)
        engine = await Engine.create(boot.engineModule, model, prefer, site + "vendor/wllama/", n_ctx, on_progress)
    except (EngineFailure, GGUFError, TokenizerError) as err:
        message = err.user_message if isinstance(err, EngineFailure) else str(err)
        status.fail(f"The model could not be loaded: {message}")
        return

    assistant = Assistant(
        engine,
        chat_format_for(header, tokenizer),
        count=tokenizer.count,
        tokenize=lambda text: tokenizer.encode(text, add_special=True, parse_special=True),
        decoder_factory=lambda: StreamDecoder(tokenizer),
        stop_ids=sorted(tokenizer.eog_ids),
    )
    panel = SummarizePanel(assistant)
    set_engine_label(f"Engine: {engine.info.kind} · model: {info.name}"
                     + (f" · {engine.info.reason}" if engine.info.reason else ""))
    status.finish()
    panel.enable()
    js.window.wordcalcBoot.readyMs = js.performance.now() - boot.bootStarted
    js.window.wordcalcBoot.engine = engine.info.kind
