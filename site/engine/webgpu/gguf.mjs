// GGUF container: the header (metadata + tensor directory) and the file's bytes as a stream of
// fixed, aligned windows, from an ArrayBuffer, a Blob or a URL. The weights never pass through
// one whole-file buffer: weights.mjs writes each window straight into GPU buffers.

import { EngineError } from "../errors.mjs";
import { tensorType } from "./tensor-types.mjs";

const MAGIC = 0x46554747; // "GGUF" little-endian
const DEFAULT_ALIGNMENT = 32;
const MAX_ITEMS = 1 << 24;
export const WINDOW_BYTES = 4 << 20;

export class GGUFTruncated extends Error {
  constructor(needed) {
    super(`GGUF header continues past byte ${needed}`);
    this.needed = needed;
  }
}

const SCALAR_READERS = {
  0: [1, (v, o) => v.getUint8(o)],
  1: [1, (v, o) => v.getInt8(o)],
  2: [2, (v, o) => v.getUint16(o, true)],
  3: [2, (v, o) => v.getInt16(o, true)],
  4: [4, (v, o) => v.getUint32(o, true)],
  5: [4, (v, o) => v.getInt32(o, true)],
  6: [4, (v, o) => v.getFloat32(o, true)],
  7: [1, (v, o) => v.getUint8(o) !== 0],
  10: [8, (v, o) => Number(v.getBigUint64(o, true))],
  11: [8, (v, o) => Number(v.getBigInt64(o, true))],
  12: [8, (v, o) => v.getFloat64(o, true)],
};
const STRING = 8;
const ARRAY = 9;

class Cursor {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.text = new TextDecoder();
  }

  need(n) {
    if (this.pos + n > this.bytes.byteLength) throw new GGUFTruncated(this.pos + n);
  }

  scalar(type) {
    const [size, read] = SCALAR_READERS[type];
    this.need(size);
    const value = read(this.view, this.pos);
    this.pos += size;
    return value;
  }

  u32() { return this.scalar(4); }
  u64() { return this.scalar(10); }

  count(what) {
    const n = this.u64();
    if (n > MAX_ITEMS) throw badFile(`GGUF header is corrupt: ${what} count ${n} is implausible`);
    return n;
  }

  string() {
    const n = this.u64();
    this.need(n);
    const s = this.text.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  skipString() {
    const n = this.u64();
    this.need(n);
    this.pos += n;
  }

  // Arrays (the vocabulary, merges) are skipped: the engine needs only scalar metadata.
  value(type) {
    if (type in SCALAR_READERS) return this.scalar(type);
    if (type === STRING) return this.string();
    if (type === ARRAY) {
      const itemType = this.u32();
      const length = this.count("array item");
      if (itemType in SCALAR_READERS) {
        const bytes = SCALAR_READERS[itemType][0] * length;
        this.need(bytes);
        this.pos += bytes;
      } else if (itemType === STRING) {
        for (let i = 0; i < length; i++) this.skipString();
      } else {
        throw badFile(`GGUF header is corrupt: array item type ${itemType}`);
      }
      return { array: true, itemType, length };
    }
    throw badFile(`GGUF header is corrupt: value type ${type}`);
  }
}

function badFile(message) {
  return new EngineError("bad-file", message);
}

// Parse the header at the start of `bytes` (a prefix of the file). Throws GGUFTruncated when the
// prefix is too short, EngineError("bad-file") when the bytes are not a usable GGUF.
export function parseHeader(bytes) {
  const cur = new Cursor(bytes);
  if (bytes.byteLength >= 4 && cur.view.getUint32(0, true) !== MAGIC) {
    throw badFile("not a GGUF file (the first bytes are not 'GGUF')");
  }
  cur.pos = 4;
  const version = cur.u32();
  if (version !== 2 && version !== 3) throw badFile(`GGUF version ${version} is not supported`);
  const nTensors = cur.count("tensor");
  const nKv = cur.count("metadata");
  const metadata = {};
  for (let i = 0; i < nKv; i++) {
    const key = cur.string();
    metadata[key] = cur.value(cur.u32());
  }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = cur.string();
    const nDims = cur.u32();
    if (nDims < 1 || nDims > 4) throw badFile(`tensor ${name} has ${nDims} dimensions`);
    const shape = [];
    for (let d = 0; d < nDims; d++) shape.push(cur.u64());
    const typeId = cur.u32();
    const offset = cur.u64();
    const type = tensorType(typeId);
    if (!type) throw badFile(`tensor ${name} has unknown GGML type id ${typeId}`);
    const nElements = shape.reduce((a, b) => a * b, 1);
    if (shape[0] % type.blockSize) {
      throw badFile(`tensor ${name}: row of ${shape[0]} is not whole ${type.name} blocks`);
    }
    tensors.push({ name, shape, type, offset, nbytes: (nElements / type.blockSize) * type.blockBytes });
  }
  const alignment = metadata["general.alignment"] ?? DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment < 4 || alignment & (alignment - 1)) {
    throw badFile(`GGUF alignment ${alignment} is not supported`);
  }
  const dataOffset = Math.ceil(cur.pos / alignment) * alignment;
  for (const t of tensors) {
    if (t.offset % alignment) throw badFile(`tensor ${t.name} is not aligned`);
    t.fileOffset = dataOffset + t.offset;
  }
  return { version, metadata, tensors, dataOffset };
}

// Async iterator of {offset, bytes}: consecutive windows of WINDOW_BYTES (the last one shorter),
// window k starting at byte k * WINDOW_BYTES. `size` is the file size (null if not known yet).
export async function openSource(source, { signal } = {}) {
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = source instanceof ArrayBuffer
      ? new Uint8Array(source)
      : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    return { size: bytes.byteLength, windows: arrayWindows(bytes) };
  }
  if (typeof Blob !== "undefined" && source instanceof Blob) {
    return { size: source.size, windows: blobWindows(source) };
  }
  if (typeof source === "string" || source instanceof URL) return fetchSource(String(source), signal);
  throw new EngineError("bad-file", "model source must be a URL, Blob or ArrayBuffer");
}

async function* arrayWindows(bytes) {
  for (let o = 0; o < bytes.byteLength; o += WINDOW_BYTES) {
    yield { offset: o, bytes: bytes.subarray(o, Math.min(o + WINDOW_BYTES, bytes.byteLength)) };
  }
}

async function* blobWindows(blob) {
  for (let o = 0; o < blob.size; o += WINDOW_BYTES) {
    const end = Math.min(o + WINDOW_BYTES, blob.size);
    yield { offset: o, bytes: new Uint8Array(await blob.slice(o, end).arrayBuffer()) };
  }
}

async function fetchSource(url, signal) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    throw new EngineError("download-failed", `could not fetch the model: ${err.message}`);
  }
  if (!response.ok || !response.body) {
    throw new EngineError("download-failed", `could not fetch the model: HTTP ${response.status}`);
  }
  const length = Number(response.headers.get("content-length"));
  return { size: length > 0 ? length : null, windows: streamWindows(response.body.getReader()) };
}

async function* streamWindows(reader) {
  let window = new Uint8Array(WINDOW_BYTES);
  let filled = 0;
  let offset = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    let chunk = value;
    while (chunk.byteLength) {
      const n = Math.min(chunk.byteLength, WINDOW_BYTES - filled);
      window.set(chunk.subarray(0, n), filled);
      filled += n;
      chunk = chunk.subarray(n);
      if (filled === WINDOW_BYTES) {
        yield { offset, bytes: window };
        offset += WINDOW_BYTES;
        window = new Uint8Array(WINDOW_BYTES);
        filled = 0;
      }
    }
  }
  if (filled) yield { offset, bytes: window.subarray(0, filled) };
}

// Read windows until the header parses; returns the header and the windows read so far (they
// hold the first tensor bytes too).
export async function readHeader(windows) {
  const seen = [];
  let prefix = new Uint8Array(0);
  for (;;) {
    const next = await windows.next();
    if (next.done) {
      try {
        return { header: parseHeader(prefix), seen };
      } catch (err) {
        if (err instanceof GGUFTruncated) throw badFile("the file ends inside its GGUF header");
        throw err;
      }
    }
    seen.push(next.value);
    const grown = new Uint8Array(prefix.byteLength + next.value.bytes.byteLength);
    grown.set(prefix);
    grown.set(next.value.bytes, prefix.byteLength);
    prefix = grown;
    try {
      return { header: parseHeader(prefix), seen };
    } catch (err) {
      if (!(err instanceof GGUFTruncated)) throw err;
    }
  }
}
