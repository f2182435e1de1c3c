// Whether a model's working buffers fit this GPU, checked before any weight is uploaded.
//
// WebGPU does not say how much memory a GPU has, but it does say how large one buffer may be
// (device.limits), and a buffer over that limit is a validation error that would surface only as
// wrong output much later. The weights are split under the limit (weights.mjs); the buffers that
// grow with the context or the vocabulary cannot be, so a model or context too large for them is
// refused here, with the figures (sizes from graph.mjs, which allocates them).

import { EngineError } from "../errors.mjs";
import { LARGE_CHUNKS, PREFILL_CHUNKS, chunkBufferBytes, growingBufferBytes } from "./graph.mjs";

const NAMES = {
  kvLayer: "the key/value cache of one layer",
  scores: "the attention scores",
  logits: "the logits",
  ffn: "the feed-forward activations",
};

function mb(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

const bufferLimit = (limits) => Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
const fits = (hp, limits, kvType, chunk, emulated) => Object.values(growingBufferBytes(hp, kvType, chunk, emulated)).every((b) => b <= bufferLimit(limits));

// The prefill chunk for this device (graph.mjs PREFILL_CHUNKS): the largest whose buffers fit
// (a wide FFN on a GPU with small buffers takes a smaller chunk rather than being refused)
// and, past LARGE_CHUNKS.above tokens, stay within its memory budget; or `wanted` (benchmarks).
export function choosePrefillChunk(hp, limits, kvType, emulated, wanted) {
  const chunks = wanted ? [wanted] : PREFILL_CHUNKS[emulated ? "emulated" : "gpu"];
  const affordable = (chunk) => wanted || chunk <= LARGE_CHUNKS.above || chunkBufferBytes(hp, chunk) <= LARGE_CHUNKS.maxBytes;
  return chunks.find((chunk) => affordable(chunk) && fits(hp, limits, kvType, chunk, emulated)) ?? chunks[chunks.length - 1];
}

export function checkBuffersFit(hp, limits, kvType, chunk, emulated) {
  const limit = bufferLimit(limits);
  for (const [key, bytes] of Object.entries(growingBufferBytes(hp, kvType, chunk, emulated))) {
    if (bytes > limit) {
      const what = NAMES[key];
      throw new EngineError("out-of-memory",
        `${what} needs ${mb(bytes)} at a context of ${hp.nCtx} tokens, but this GPU allows ${mb(limit)} per buffer`,
        { buffer: what, bytes, limit, nCtx: hp.nCtx });
    }
  }
}
