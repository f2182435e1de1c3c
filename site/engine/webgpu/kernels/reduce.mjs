// Workgroup tree reductions, as WGSL text for the kernels to splice in.

// Every invocation's `value` combined into arr[0] by a tree over `n` invocations (`combine` builds
// the expression from two operands; `index` names the local invocation index); `stride` > 1
// combines n / stride interleaved sets at once (arr[0 .. stride - 1]). Ends with a barrier.
export function treeReduce(arr, value, n, combine, { stride = 1, index = "li" } = {}) {
  return `
  ${arr}[${index}] = ${value};
  workgroupBarrier();
  for (var s = ${n / stride / 2}u; s > 0u; s >>= 1u) {
    if (${index} < s * ${stride}u) { ${arr}[${index}] = ${combine(`${arr}[${index}]`, `${arr}[${index} + s * ${stride}u]`)}; }
    workgroupBarrier();
  }`;
}

export const maxOf = (a, b) => `max(${a}, ${b})`;
export const minOf = (a, b) => `min(${a}, ${b})`;
export const sumOf = (a, b) => `${a} + ${b}`;
