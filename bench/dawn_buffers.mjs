// Buffers for the kernel benchmarks that run outside the browser (Node + Dawn).

// A storage buffer holding `data` (padded to 16 bytes), readable by copies; `usage` adds flags.
export function storageBuffer(device, data, usage = 0) {
  const buffer = device.createBuffer({
    size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | usage,
  });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

// Maps `read` (a MAP_READ buffer the submitted work copies into) once that work is done, after
// sleeping through ~90% of `lastMs` (how long the same work took the time before): dawn.node
// polls without pause while a promise of it is pending, which takes one of this machine's two
// cores from SwiftShader's threads.
export async function mapAfterWork(read, lastMs) {
  await new Promise((done) => setTimeout(done, 0.9 * lastMs));
  await read.mapAsync(GPUMapMode.READ);
}

// A uniform buffer holding `words`.
export function uniformBuffer(device, words) {
  const buffer = device.createBuffer({ size: words.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, words);
  return buffer;
}
