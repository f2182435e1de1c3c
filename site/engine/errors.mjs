// The one error shape that crosses the FFI: {kind, message, detail}. Python maps `kind` to a
// user-facing message (pyapp/engine/contract.py keeps the same list of kinds).

export const ERROR_KINDS = Object.freeze([
  "no-webgpu",          // no adapter/device: the caller falls back to the CPU engine
  "unsupported-arch",   // GGUF general.architecture the engine cannot run
  "unsupported-type",   // a tensor type the engine cannot run
  "bad-file",           // not a GGUF, truncated, corrupt
  "download-failed",    // the model could not be fetched
  "out-of-memory",      // GPU buffer/binding limits or allocation failure
  "device-lost",        // the GPU device went away mid-run
  "context-overflow",   // prompt + answer would exceed the context length
  "cancelled",          // the user pressed Stop
  "internal",           // a bug: anything else
]);

export class EngineError extends Error {
  constructor(kind, message, detail = null) {
    super(message);
    if (!ERROR_KINDS.includes(kind)) throw new Error(`unknown engine error kind ${kind}`);
    this.name = "EngineError";
    this.kind = kind;
    this.detail = detail;
  }

  toJSON() {
    return { kind: this.kind, message: this.message, detail: this.detail };
  }
}

export function asEngineError(err, fallbackKind = "internal") {
  if (err instanceof EngineError) return err;
  if (err && err.name === "AbortError") return new EngineError("cancelled", "Stopped.");
  const message = err && err.message ? err.message : String(err);
  return new EngineError(fallbackKind, message, err && err.stack ? String(err.stack) : null);
}
