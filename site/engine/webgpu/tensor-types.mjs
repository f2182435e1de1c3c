// The one table of GGML tensor types on the JS side (mirrors pyapp/model/tensor_types.py; a test
// checks that the two agree). `supported` marks the types that have a kernel in kernels/quant.mjs.

const TYPES = [
  ["F32", 0, 1, 4, true],
  ["F16", 1, 1, 2, true],
  ["Q4_0", 2, 32, 18, true],
  ["Q4_1", 3, 32, 20, true],
  ["Q5_0", 6, 32, 22, true],
  ["Q5_1", 7, 32, 24, false],
  ["Q8_0", 8, 32, 34, true],
  ["Q8_1", 9, 32, 36, false],
  ["Q2_K", 10, 256, 84, false],
  ["Q3_K", 11, 256, 110, false],
  ["Q4_K", 12, 256, 144, true],
  ["Q5_K", 13, 256, 176, true],
  ["Q6_K", 14, 256, 210, true],
  ["Q8_K", 15, 256, 292, false],
  // The i-quants: known so that a model using them is named, not taken for a corrupt file.
  ["IQ2_XXS", 16, 256, 66, false],
  ["IQ2_XS", 17, 256, 74, false],
  ["IQ3_XXS", 18, 256, 98, false],
  ["IQ1_S", 19, 256, 50, false],
  ["IQ4_NL", 20, 32, 18, false],
  ["IQ3_S", 21, 256, 110, false],
  ["IQ2_S", 22, 256, 82, false],
  ["IQ4_XS", 23, 256, 136, false],
  ["IQ1_M", 29, 256, 56, false],
  ["BF16", 30, 1, 2, false],
];

export const TENSOR_TYPES = new Map(
  TYPES.map(([name, typeId, blockSize, blockBytes, supported]) => [
    typeId,
    Object.freeze({ name, typeId, blockSize, blockBytes, supported }),
  ]),
);

export function tensorType(typeId) {
  return TENSOR_TYPES.get(typeId) ?? null;
}

export function rowBytes(type, rowLength) {
  return (rowLength / type.blockSize) * type.blockBytes;
}
