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

// A uniform buffer holding `words`.
export function uniformBuffer(device, words) {
  const buffer = device.createBuffer({ size: words.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, words);
  return buffer;
}
