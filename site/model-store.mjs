// A model's bytes by URL: downloaded with progress, and, for the models a user loads, kept in this
// browser so that the next load needs no network.
//
// A kept model is one Cache API cache per URL: the file in pieces of at most PIECE_BYTES, each
// keyed by its byte span, plus a manifest (size, validators, verified SHA-256, complete).
// A download that breaks keeps what arrived and goes on with a Range request from there; a
// server that ignores Range (200 instead of 206) or whose file changed sends it all again.
//
// Cache API rather than OPFS: each cache.put() is atomic, so after a dropped connection or a
// closed tab every stored piece is whole and the download resumes after the last one; an OPFS
// writable is committed only on close(), and reopening a file to append copies it whole in
// Chromium, so OPFS would need a file per piece too. Blobs read back from the Cache API are
// backed by disk, so the engine gets a 500 MB model without a second copy in memory, and the
// Cache API works wherever sw.js does.

import { EngineError } from "./engine/errors.mjs";
import { Sha256 } from "./sha256.mjs";

const CACHE_PREFIX = "wordcalc model "; // sw.js deletes only its own "wordcalc app …" caches
const KEY_BASE = "https://wordcalc.invalid/";
const MANIFEST_KEY = `${KEY_BASE}manifest`;
const PIECE_BYTES = 16 << 20;
const MAX_ATTEMPTS = 4;
const RETRY_DELAY_MS = 500;
const PROGRESS_INTERVAL_MS = 100;
const MODEL_TYPE = "application/octet-stream";

// The pieces of one download, in order from byte 0: in a cache, or in memory for plain downloads
// and once storage has failed (`notStored` then says why: "quota" or "unavailable").
class Pieces {
  constructor(url, cache, notStored) {
    this.url = url;
    this.cache = cache;
    this.notStored = notStored;
    this.manifest = null;
    this.kept = []; // [{start, blob}] in memory, or [{start, key}] in the cache
    this.size = 0;
  }

  static inMemory(url, notStored = null) {
    return new Pieces(url, null, notStored);
  }

  static async open(url) {
    let cache;
    try {
      cache = await caches.open(CACHE_PREFIX + url);
    } catch {
      return Pieces.inMemory(url, "unavailable"); // e.g. a private window that refuses storage
    }
    const pieces = new Pieces(url, cache, null);
    pieces.manifest = await (await cache.match(MANIFEST_KEY))?.json() ?? null;
    const spans = (await cache.keys())
      .map((request) => /\/piece\/(\d+)-(\d+)$/.exec(request.url)).filter(Boolean)
      .map((match) => ({ start: Number(match[1]), end: Number(match[2]), key: match.input }))
      .sort((a, b) => a.start - b.start);
    for (const { start, end, key } of spans) {
      if (start !== pieces.size) break; // only an unbroken run from byte 0 is usable
      pieces.kept.push({ start, key });
      pieces.size = end;
    }
    return pieces;
  }

  get stored() {
    return this.cache !== null;
  }

  async append(blob) {
    const start = this.size;
    if (this.stored) {
      const key = pieceKey(start, start + blob.size);
      const kept = await this.write(async () => {
        await this.cache.put(key, new Response(blob, { headers: { "Content-Type": MODEL_TYPE } }));
        return { start, key };
      });
      if (kept) {
        this.kept.push(kept);
        this.size += blob.size;
        return;
      }
    }
    this.kept.push({ start, blob });
    this.size += blob.size;
  }

  async saveManifest(manifest) {
    this.manifest = manifest;
    if (this.stored) await this.write(() => this.cache.put(MANIFEST_KEY, Response.json(manifest)));
  }

  // Runs a cache write; when storage is full, moves everything to memory and returns null.
  async write(put) {
    try {
      return await put();
    } catch (err) {
      if (err?.name !== "QuotaExceededError") throw err;
      await this.toMemory("quota");
      return null;
    }
  }

  async toMemory(reason) {
    const blobs = await this.blobs();
    this.kept = await Promise.all(this.kept.map(async ({ start }, i) => (
      { start, blob: new Blob([await blobs[i].arrayBuffer()]) }))); // its cache is deleted next
    await removeCache(this.url);
    this.cache = null;
    this.notStored = reason;
  }

  async clear() {
    if (this.stored) await Promise.all(this.kept.map(({ key }) => this.cache.delete(key)));
    this.kept = [];
    this.size = 0;
  }

  async discard() {
    this.kept = [];
    this.size = 0;
    if (this.stored) await removeCache(this.url);
  }

  async blobs() {
    return Promise.all(this.kept.map(async ({ key, blob }) => blob ?? (await this.cache.match(key)).blob()));
  }
}

// Entries first: Chromium gives a deleted entry's space back once no Blob read from it is alive,
// but a deleted cache's only once every handle to it has been garbage-collected.
async function removeCache(url) {
  const cache = await caches.open(CACHE_PREFIX + url);
  await Promise.all((await cache.keys()).map((request) => cache.delete(request)));
  await caches.delete(CACHE_PREFIX + url);
}

// Its span is in the key, so the store can be listed without opening any piece.
function pieceKey(start, end) {
  return `${KEY_BASE}piece/${start}-${end}`;
}

function reporter(onProgress) {
  let lastPhase = null;
  let lastAt = 0;
  return (phase, loaded, total, always = false) => {
    const now = performance.now();
    if (!always && phase === lastPhase && now - lastAt < PROGRESS_INTERVAL_MS) return;
    lastPhase = phase;
    lastAt = now;
    onProgress?.({ phase, loaded, total });
  };
}

async function request(url, start, stored, signal) {
  const init = { signal, headers: start > 0 ? { Range: `bytes=${start}-` } : {} };
  // A kept model must not also land in the HTTP cache: that would store it twice.
  if (stored) init.cache = "no-store";
  try {
    return await fetch(url, init);
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new EngineError("download-failed", `Could not download the model (${err.message || err}).`);
  }
}

// "bytes 100-199/1000" -> {first: 100, total: 1000}
function contentRange(response) {
  const match = /^bytes (\d+)-\d+\/(\d+)$/.exec(response.headers.get("Content-Range") ?? "");
  return match ? { first: Number(match[1]), total: Number(match[2]) } : null;
}

// Whether a 206 answer continues the same file the kept pieces came from.
function continuesFile(response, start, manifest) {
  const range = contentRange(response);
  if (range === null) {
    // Content-Range is hidden from cross-origin pages unless the server exposes it.
    const length = Number(response.headers.get("Content-Length"));
    return manifest?.bytes != null && length === manifest.bytes - start;
  }
  const etag = response.headers.get("ETag");
  const modified = response.headers.get("Last-Modified");
  return range.first === start && (manifest?.bytes == null || range.total === manifest.bytes)
    && !(etag && manifest?.etag && etag !== manifest.etag)
    && !(modified && manifest?.lastModified && modified !== manifest.lastModified);
}

function totalOf(response) {
  if (response.status === 206) return contentRange(response)?.total ?? null;
  return Number(response.headers.get("Content-Length")) || null;
}

// Reads the body into pieces; what arrived before a broken connection is kept too. Reading never
// waits for storage: when a connection breaks, Chromium drops whatever the page had not read yet.
async function receive(response, pieces, total, report) {
  const reader = response.body.getReader();
  let buffer = [];
  let buffered = 0;
  let writes = Promise.resolve();
  const flush = () => {
    const blob = new Blob(buffer);
    buffer = [];
    buffered = 0;
    writes = writes.then(() => pieces.append(blob));
  };
  let received = pieces.size;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer.push(value);
      buffered += value.byteLength;
      received += value.byteLength;
      report("download", received, total ?? 0);
      if (buffered >= PIECE_BYTES) flush();
    }
  } finally {
    if (buffered) flush();
    await writes;
  }
}

// Downloads the rest of the file into pieces, resuming after a broken connection as long as
// each attempt gets further; returns the file's size.
async function download(url, pieces, report, signal) {
  let failure = null;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const before = pieces.size;
    if (before > 0 && before === pieces.manifest?.bytes) return before; // stopped before verifying
    const response = await request(url, before, pieces.stored, signal);
    if (response.status === 206 && !continuesFile(response, before, pieces.manifest)) {
      await response.body?.cancel();
      await pieces.clear(); // the file changed since: all of it again
      continue;
    }
    if (!response.ok) {
      throw new EngineError("download-failed", `Could not download the model: HTTP ${response.status}.`);
    }
    if (response.status === 200 && before > 0) await pieces.clear(); // Range ignored: from byte 0
    const total = totalOf(response);
    if (pieces.size > 0) report("resume", pieces.size, total ?? 0, true);
    if (pieces.size === 0 || pieces.manifest === null) {
      await pieces.saveManifest({
        url, bytes: total, etag: response.headers.get("ETag"),
        lastModified: response.headers.get("Last-Modified"), sha256: null, complete: false,
      });
    }
    try {
      await receive(response, pieces, total, report);
      report("download", pieces.size, total ?? pieces.size, true);
      if (total !== null && pieces.size !== total) {
        throw new EngineError("download-failed", `The download has ${pieces.size} bytes, not ${total}.`);
      }
      return pieces.size;
    } catch (err) {
      const madeProgress = pieces.size > before;
      if (err instanceof EngineError || err?.name === "AbortError" || !madeProgress) throw asDownloadError(err);
      failure = err;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
  }
  throw asDownloadError(failure);
}

function asDownloadError(err) {
  if (err instanceof EngineError || err?.name === "AbortError") return err;
  return new EngineError("download-failed", `The download broke off (${err?.message || err}).`);
}

async function sha256Of(pieces, report) {
  const hash = new Sha256();
  let done = 0;
  report("verify", 0, pieces.size, true);
  for (const blob of await pieces.blobs()) {
    hash.update(new Uint8Array(await blob.arrayBuffer()));
    done += blob.size;
    report("verify", done, pieces.size, true);
  }
  return hash.hex();
}

function shortHash(hex) {
  return `${hex.slice(0, 12)}…`;
}

async function fromStore(pieces, expected, report) {
  let actual = pieces.manifest.sha256;
  if (expected && !actual) {
    actual = await sha256Of(pieces, report);
    if (actual === expected) await pieces.saveManifest({ ...pieces.manifest, sha256: actual });
  }
  if (expected && actual !== expected) {
    throw new EngineError("download-failed", `The copy stored in this browser has SHA-256 `
      + `${shortHash(actual)}, not the expected ${shortHash(expected)}; delete it to download it again.`);
  }
  report("stored", pieces.size, pieces.size, true);
  return { blob: new Blob(await pieces.blobs(), { type: MODEL_TYPE }), notStored: null };
}

// The model at `url` as a Blob, with progress {phase, loaded, total}: "download", "resume",
// "verify", "stored". With `store`, the model is kept in (or taken from) this browser's storage;
// `sha256` (hex), when given, must match. Resolves to {blob, notStored}: notStored is null, or
// why a model that was to be kept is not: "quota" (storage is full) or "unavailable" (refused).
export async function fetchModel(url, { onProgress, signal, store = false, sha256 = null } = {}) {
  const report = reporter(onProgress);
  const pieces = store ? await Pieces.open(url) : Pieces.inMemory(url);
  if (pieces.manifest?.complete && pieces.size === pieces.manifest.bytes) return fromStore(pieces, sha256, report);
  if (pieces.stored) await navigator.storage?.persist?.().catch(() => false);
  await download(url, pieces, report, signal);
  if (sha256) {
    const actual = await sha256Of(pieces, report);
    if (actual !== sha256) {
      await pieces.discard();
      throw new EngineError("download-failed", `The downloaded file's SHA-256 is ${shortHash(actual)}, not `
        + `the expected ${shortHash(sha256)}: it is not the file you asked for, so nothing was stored.`);
    }
  }
  await pieces.saveManifest({ ...pieces.manifest, bytes: pieces.size, sha256, complete: true });
  return { blob: new Blob(await pieces.blobs(), { type: MODEL_TYPE }), notStored: pieces.notStored };
}

// Every kept model, complete or not: {url, bytes (null when unknown), storedBytes, sha256, complete}.
export async function listStoredModels() {
  if (!globalThis.caches) return [];
  const names = (await caches.keys()).filter((name) => name.startsWith(CACHE_PREFIX));
  return Promise.all(names.map(async (name) => {
    const pieces = await Pieces.open(name.slice(CACHE_PREFIX.length));
    const manifest = pieces.manifest ?? {};
    return {
      url: pieces.url,
      bytes: manifest.bytes ?? null,
      storedBytes: pieces.size,
      sha256: manifest.sha256 ?? null,
      complete: Boolean(manifest.complete) && pieces.size === manifest.bytes,
    };
  }));
}

export async function deleteStoredModel(url) {
  await removeCache(url);
}

// {usage, quota, persisted} for this origin, or null where the browser does not tell.
export async function storageEstimate() {
  if (!navigator.storage?.estimate) return null;
  const { usage = 0, quota = 0 } = await navigator.storage.estimate();
  const persisted = await navigator.storage.persisted?.().catch(() => false) ?? false;
  return { usage, quota, persisted };
}
