"""Opening a model: bytes -> checked GGUF header -> tokenizer + chat format -> a loaded engine.

Every check that can be made in Python is made before the engine sees the file, so a bad file is
refused with a message that names the problem (truncated, not GGUF, unknown tokenizer) rather
than whatever the engine would have failed with.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.assistant import Assistant
from pyapp.engine.bridge import Engine, ModelFile, ProgressCallback
from pyapp.engine.contract import EngineFailure, cpu_fallback_reason
from pyapp.model.chat import ChatFormat
from pyapp.model.gguf import GGUFError, GGUFHeader, GGUFTruncated, check_tensor_extents, read_header
from pyapp.model.tokenizer import StreamDecoder, Tokenizer, TokenizerError

HEADER_PROBE_BYTES = 4 << 20
MAX_CONTEXT = 4096
LOAD_ERRORS = (EngineFailure, GGUFError, TokenizerError)
# What both engines run with our tokenizer and chat handling (issue: llama + qwen2 families).
SUPPORTED_ARCHITECTURES = ("llama", "qwen2")


@dataclass
class LoadedModel:
    name: str
    engine: Engine
    tokenizer: Tokenizer
    chat: ChatFormat
    file: ModelFile  # kept so the engine can be built again (GPU reset) without fetching anything

    def assistant(self) -> Assistant:
        tokenizer = self.tokenizer
        return Assistant(
            self.engine,
            self.chat,
            count=tokenizer.count,
            tokenize=lambda text: tokenizer.encode(text, add_special=True, parse_special=True),
            decoder_factory=lambda: StreamDecoder(tokenizer),
            stop_ids=sorted(tokenizer.eog_ids),
        )

    @property
    def label(self) -> str:
        reason = f" · {self.engine.info.reason}" if self.engine.info.reason else ""
        return f"Engine: {self.engine.info.kind} · model: {self.name}{reason}"


async def read_model_header(model: ModelFile) -> GGUFHeader:
    """Parse the header from the first megabytes, reading more only if the header is longer."""
    size = HEADER_PROBE_BYTES
    while True:
        try:
            header = read_header(await model.read(0, size))
            break
        except GGUFTruncated as short:
            if size >= model.size:
                raise GGUFError("the file ends inside its GGUF header (it is truncated)") from None
            size = max(short.needed + (1 << 20), size * 2)
    check_tensor_extents(header, model.size)
    if header.architecture not in SUPPORTED_ARCHITECTURES:
        raise GGUFError(
            f"its architecture {header.architecture!r} is not supported "
            f"(wordcalc runs {' and '.join(SUPPORTED_ARCHITECTURES)} models)"
        )
    return header


def chat_format_for(header: GGUFHeader, tokenizer: Tokenizer) -> ChatFormat:
    def text_of(token_id: int | None) -> str:
        return "" if token_id is None else tokenizer.token_bytes(token_id).decode("utf-8", "replace")

    return ChatFormat(header.metadata.get("tokenizer.chat_template"),
                      bos_token=text_of(tokenizer.bos_id), eos_token=text_of(tokenizer.eos_id))


async def open_model(engine_module, model: ModelFile, name: str, prefer: str, wllama_assets: str,
                     on_progress: ProgressCallback | None = None) -> LoadedModel:
    """Raises GGUFError, TokenizerError or EngineFailure, each with a message for the user."""
    header = await read_model_header(model)
    tokenizer = Tokenizer.from_gguf(header)
    n_ctx = min(int(header.arch_value("context_length", 2048)), MAX_CONTEXT)
    engine = await create_engine(engine_module, model, prefer, wllama_assets, n_ctx, on_progress)
    return LoadedModel(name=name, engine=engine, tokenizer=tokenizer, chat=chat_format_for(header, tokenizer),
                       file=model)


async def create_engine(engine_module, model: ModelFile, prefer: str, wllama_assets: str, n_ctx: int,
                        on_progress: ProgressCallback | None) -> Engine:
    """The preferred engine with the model loaded; the CPU engine when the GPU engine refuses
    this model and the app chose the engine (contract.cpu_fallback_reason)."""
    try:
        return await Engine.create(engine_module, model, prefer, wllama_assets, n_ctx, on_progress)
    except EngineFailure as failure:
        reason = cpu_fallback_reason(prefer, failure)
        if reason is None:
            raise
    return await Engine.create(engine_module, model, "wllama", wllama_assets, n_ctx, on_progress, reason=reason)


async def reopen_model(engine_module, loaded: LoadedModel, prefer: str, wllama_assets: str,
                       on_progress: ProgressCallback | None = None) -> LoadedModel:
    """A new engine for a model already open (the GPU was reset): the same bytes, tokenizer and
    chat format, nothing downloaded or parsed again."""
    engine = await create_engine(engine_module, loaded.file, prefer, wllama_assets, loaded.engine.info.n_ctx,
                                 on_progress)
    return LoadedModel(name=loaded.name, engine=engine, tokenizer=loaded.tokenizer, chat=loaded.chat,
                       file=loaded.file)


def load_failure_message(err: Exception) -> str:
    detail = err.user_message if isinstance(err, EngineFailure) else str(err)
    return f"The model could not be loaded: {detail}"
