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

// The same over subgroups (the kernel declares `sid` and `ssz`, the subgroup invocation id and
// size): each subgroup's result by `op` (subgroupAdd, subgroupMax), one barrier, then every
// invocation combines the n / ssz partials into the new variable `result`. Two barriers instead of
// log2(n) + 1.
export function subgroupReduce(arr, value, n, op, combine, result) {
  return `
  let ${result}_part = ${op}(${value});
  if (sid == 0u) { ${arr}[li / ssz] = ${result}_part; }
  workgroupBarrier();
  var ${result} = ${arr}[0];
  for (var i = 1u; i < ${n}u / ssz; i++) { ${result} = ${combine(result, `${arr}[i]`)}; }
  workgroupBarrier();`;
}

export const maxOf = (a, b) => `max(${a}, ${b})`;
export const minOf = (a, b) => `min(${a}, ${b})`;
export const sumOf = (a, b) => `${a} + ${b}`;
