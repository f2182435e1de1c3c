"""Write a synthetic GGUF of a real model's shape with random quantized weights, for speed benchmarks.

Speed depends on shapes and types, not on the weights' values, so random blocks (f16 scales near
0.01, random quants) stand in for trained weights. All Q4_0, or with the suffix "-q4_k_m" the
type mix of llama.cpp's Q4_K_M files: Q4_K, and Q6_K for the output head and for attn_v and
ffn_down of the layers llama.cpp gives more bits (the first and last eighth, every third between). The vocabulary is a dummy one of the right size
whose first 256 tokens are GPT-2's byte characters and which has one merge, so that native
llama.cpp (`llama-bench`) loads the same files.

    python bench/make_bench_gguf.py smollm2-135m OUT.gguf
    python bench/make_bench_gguf.py llama3-8b OUT.gguf
    python bench/make_bench_gguf.py llama3-8b-q4_k_m OUT.gguf
"""

from __future__ import annotations

import sys

import gguf
import numpy as np

SHAPES = {
    "smollm2-135m": dict(n_layer=30, n_embd=576, n_head=9, n_kv=3, n_ff=1536, n_vocab=49152, tied=True, rope_base=100000.0),
    "llama3-8b": dict(n_layer=32, n_embd=4096, n_head=32, n_kv=8, n_ff=14336, n_vocab=128256, tied=False, rope_base=500000.0),
}
Q4_0, Q4_K, Q6_K = (gguf.GGMLQuantizationType[t] for t in ("Q4_0", "Q4_K", "Q6_K"))
# Byte offsets of each type's f16 scales in its block (the other bytes may be anything).
F16_SCALES = {Q4_0: (0,), Q4_K: (0, 2), Q6_K: (208,)}


def random_blocks(rng: np.random.Generator, qtype: gguf.GGMLQuantizationType, rows: int, cols: int) -> np.ndarray:
    block_size, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_size
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for at in F16_SCALES[qtype]:
        blocks[:, at:at + 2] = rng.uniform(0.005, 0.015, (n_blocks, 1)).astype(np.float16).view(np.uint8)
    return blocks.reshape(rows, cols // block_size * block_bytes)


def more_bits(layer: int, n_layer: int) -> bool:
    """llama.cpp's use_more_bits: the Q4_K_M layers whose attn_v and ffn_down take Q6_K."""
    return layer < n_layer // 8 or layer >= 7 * n_layer // 8 or (layer - n_layer // 8) % 3 == 2


def dummy_vocabulary(size: int) -> list[str]:
    """GPT-2's 256 byte characters (llama.cpp looks up the newline's), then placeholders."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = iter(range(256, 512))
    byte_chars = [chr(b) if b in printable else chr(next(shifted)) for b in range(256)]
    return byte_chars + [f"t{i}" for i in range(256, size)]


def write(name: str, path: str) -> None:
    k_mix = name.endswith("-q4_k_m")
    shape_name = name.removesuffix("-q4_k_m")
    s = SHAPES[shape_name]
    if k_mix and s["n_embd"] % 256:
        raise SystemExit(f"{shape_name}: rows of {s['n_embd']} do not split into the 256-weight K-quant blocks")
    rng = np.random.default_rng(0)
    head_dim = s["n_embd"] // s["n_head"]
    base = Q4_K if k_mix else Q4_0

    def matrix(rows: int, cols: int, more: bool = False) -> dict:
        qtype = Q6_K if k_mix and more else base
        return dict(tensor=random_blocks(rng, qtype, rows, cols), raw_dtype=qtype)

    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"synthetic {name}")
    w.add_context_length(8192)
    w.add_embedding_length(s["n_embd"])
    w.add_block_count(s["n_layer"])
    w.add_feed_forward_length(s["n_ff"])
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_kv"])
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(s["rope_base"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(dummy_vocabulary(s["n_vocab"]))
    w.add_token_merges(["t 0"])
    ones = np.ones(s["n_embd"], dtype=np.float32)
    d, kv = s["n_embd"], s["n_kv"] * head_dim
    w.add_tensor("token_embd.weight", **matrix(s["n_vocab"], d))
    for i in range(s["n_layer"]):
        p = f"blk.{i}."
        more = more_bits(i, s["n_layer"])
        w.add_tensor(p + "attn_norm.weight", ones)
        w.add_tensor(p + "attn_q.weight", **matrix(d, d))
        w.add_tensor(p + "attn_k.weight", **matrix(kv, d))
        w.add_tensor(p + "attn_v.weight", **matrix(kv, d, more))
        w.add_tensor(p + "attn_output.weight", **matrix(d, d))
        w.add_tensor(p + "ffn_norm.weight", ones)
        w.add_tensor(p + "ffn_gate.weight", **matrix(s["n_ff"], d))
        w.add_tensor(p + "ffn_up.weight", **matrix(s["n_ff"], d))
        w.add_tensor(p + "ffn_down.weight", **matrix(d, s["n_ff"], more))
    w.add_tensor("output_norm.weight", ones)
    if not s["tied"]:
        w.add_tensor("output.weight", **matrix(s["n_vocab"], d, more=True))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
