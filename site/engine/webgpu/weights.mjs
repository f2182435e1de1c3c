// Weights on the GPU: tensors are packed into a few storage buffers ("arenas") no larger than the
// device's binding limit; a tensor larger than that is split by rows into parts. Bytes are copied
// from the file's windows straight into the arenas, nothing is dequantized on the CPU.

import { EngineError } from "../errors.mjs";
import { rowBytes } from "./tensor-types.mjs";

const ROW_ALIGN = 4; // parts start on a multiple of 4 rows so every part starts 4-byte aligned
const DRAIN_BYTES = 64 << 20;

function alignUp(n, a) {
  return Math.ceil(n / a) * a;
}

// Tensors in file order, except that the members of each group (lists of names, e.g. a layer's
// q, k and v) follow each other, so that the packing below usually places them back to back and
// one kernel can read them as one matrix (see contiguousSpan).
function groupedOrder(tensors, groups) {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const groupOf = new Map(groups.flatMap((g) => g.map((name) => [name, g])));
  const order = [];
  const done = new Set();
  for (const t of tensors) {
    for (const name of groupOf.get(t.name) ?? [t.name]) {
      if (!done.has(name) && byName.has(name)) {
        done.add(name);
        order.push(byName.get(name));
      }
    }
  }
  return order;
}

// Bytes of GPU memory the arenas of a plan take.
export function planBytes(plan) {
  return plan.arenas.reduce((sum, arena) => sum + arena.size, 0);
}

// Split each tensor into parts of at most `limit` bytes and pack the parts into arenas.
// `maxBindingBytes` lowers the device's limit (tests, and simulating small GPUs); `groups` as in
// groupedOrder.
export function planWeights(tensors, limits, maxBindingBytes = Infinity, groups = []) {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, maxBindingBytes);
  const align = limits.minStorageBufferOffsetAlignment;
  const arenas = [];
  let current = null;
  const placed = new Map();
  for (const t of groupedOrder(tensors, groups)) {
    const rowLength = t.shape[0];
    const nRows = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const bytesPerRow = rowBytes(t.type, rowLength);
    const maxRows = Math.floor(limit / bytesPerRow / ROW_ALIGN) * ROW_ALIGN;
    if (maxRows < 1) throw new EngineError("out-of-memory", `one row of ${t.name} exceeds the GPU binding limit`);
    const parts = [];
    for (let rowStart = 0; rowStart < nRows; rowStart += maxRows) {
      const rowCount = Math.min(maxRows, nRows - rowStart);
      const size = alignUp(rowCount * bytesPerRow, 4);
      if (!current || alignUp(current.size, align) + size > limit) {
        current = { size: 0, buffer: null };
        arenas.push(current);
      }
      const offset = alignUp(current.size, align);
      current.size = offset + size;
      parts.push({
        arena: current, offset, size, rowStart, rowCount,
        fileStart: t.fileOffset + rowStart * bytesPerRow,
        fileEnd: t.fileOffset + (rowStart + rowCount) * bytesPerRow,
      });
    }
    placed.set(t.name, { ...t, rowLength, nRows, bytesPerRow, parts });
  }
  return { arenas, tensors: placed };
}

// Create the arenas and fill them from the file windows (`seen` first, then the rest of
// `windows`). Window k covers bytes [k * W, (k + 1) * W); tensor parts start 4-byte aligned.
export async function uploadWeights(device, plan, seen, windows, fileSize, onProgress) {
  for (const arena of plan.arenas) {
    arena.buffer = device.createBuffer({
      size: Math.max(alignUp(arena.size, 4), 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
  }
  const parts = [...plan.tensors.values()].flatMap((t) => t.parts).sort((a, b) => a.fileStart - b.fileStart);
  const dataEnd = parts.length ? Math.max(...parts.map((p) => p.fileEnd)) : 0;
  let first = 0;
  let loaded = 0;
  const write = ({ offset, bytes }) => {
    const end = offset + bytes.byteLength;
    while (first < parts.length && parts[first].fileEnd <= offset) first++;
    for (let i = first; i < parts.length && parts[i].fileStart < end; i++) {
      const p = parts[i];
      const a = Math.max(p.fileStart, offset);
      const b = Math.min(p.fileEnd, end);
      if (b <= a) continue;
      let piece = bytes.subarray(a - offset, b - offset);
      if (piece.byteLength % 4) {
        const padded = new Uint8Array(alignUp(piece.byteLength, 4));
        padded.set(piece);
        piece = padded;
      }
      device.queue.writeBuffer(p.arena.buffer, p.offset + (a - p.fileStart), piece);
    }
    loaded = end;
    onProgress?.({ phase: "weights", loaded, total: fileSize ?? dataEnd });
  };
  for (const w of seen) write(w);
  let sinceDrain = 0;
  while (loaded < dataEnd) {
    const next = await windows.next();
    if (next.done) break;
    write(next.value);
    sinceDrain += next.value.bytes.byteLength;
    // Let the queue drain now and then so staging memory stays bounded on large files.
    if (sinceDrain >= DRAIN_BYTES) {
      await device.queue.onSubmittedWorkDone();
      sinceDrain = 0;
    }
  }
  if (loaded < dataEnd) {
    throw new EngineError("bad-file", `the file is truncated: tensors end at byte ${dataEnd}, the file at ${loaded}`);
  }
  await device.queue.onSubmittedWorkDone();
}

export function destroyWeights(plan) {
  for (const arena of plan.arenas) arena.buffer?.destroy();
}

// The tensors `names` as one (their rows stacked in this order) if they are unsplit, of one type
// and back to back in one arena: {arena, offset, size, rowCount}; else null.
export function contiguousSpan(plan, names) {
  const ts = names.map((n) => plan.tensors.get(n));
  if (ts.some((t) => !t || t.parts.length !== 1 || t.type.name !== ts[0].type.name)) return null;
  const parts = ts.map((t) => t.parts[0]);
  for (let i = 1; i < parts.length; i++) {
    if (parts[i].arena !== parts[0].arena || parts[i].offset !== parts[i - 1].offset + parts[i - 1].size) return null;
  }
  const last = parts[parts.length - 1];
  return { arena: parts[0].arena, offset: parts[0].offset, size: last.offset + last.size - parts[0].offset,
    rowCount: parts.reduce((n, p) => n + p.rowCount, 0) };
}
