"""Write a synthetic GGUF of a real model's shape with random Q4_0 weights, for speed benchmarks.

Speed depends on shapes and types, not on the weights' values, so random blocks (f16 scales near
0.01, random nibbles) stand in for trained weights. The vocabulary is a dummy one of the right size
whose first 256 tokens are GPT-2's byte characters and which has one merge, so that native
llama.cpp (`llama-bench`) loads the same files.

    python bench/make_bench_gguf.py smollm2-135m OUT.gguf
    python bench/make_bench_gguf.py llama3-8b OUT.gguf
"""

from __future__ import annotations

import sys

import gguf
import numpy as np

SHAPES = {
    "smollm2-135m": dict(n_layer=30, n_embd=576, n_head=9, n_kv=3, n_ff=1536, n_vocab=49152, tied=True, rope_base=100000.0),
    "llama3-8b": dict(n_layer=32, n_embd=4096, n_head=32, n_kv=8, n_ff=14336, n_vocab=128256, tied=False, rope_base=500000.0),
}
Q4_0 = gguf.GGMLQuantizationType.Q4_0


def q4_0(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    n_blocks = rows * cols // 32
    scales = rng.uniform(0.005, 0.015, n_blocks).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
    nibbles = rng.integers(0, 256, size=(n_blocks, 16), dtype=np.uint8)
    return np.concatenate([scales, nibbles], axis=1).reshape(rows, cols // 32 * 18)


def dummy_vocabulary(size: int) -> list[str]:
    """GPT-2's 256 byte characters (llama.cpp looks up the newline's), then placeholders."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = iter(range(256, 512))
    byte_chars = [chr(b) if b in printable else chr(next(shifted)) for b in range(256)]
    return byte_chars + [f"t{i}" for i in range(256, size)]


def write(shape_name: str, path: str) -> None:
    s = SHAPES[shape_name]
    rng = np.random.default_rng(0)
    head_dim = s["n_embd"] // s["n_head"]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"synthetic {shape_name} Q4_0")
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
    w.add_tensor("token_embd.weight", q4_0(rng, s["n_vocab"], d), raw_dtype=Q4_0)
    for i in range(s["n_layer"]):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones)
        w.add_tensor(p + "attn_q.weight", q4_0(rng, d, d), raw_dtype=Q4_0)
        w.add_tensor(p + "attn_k.weight", q4_0(rng, kv, d), raw_dtype=Q4_0)
        w.add_tensor(p + "attn_v.weight", q4_0(rng, kv, d), raw_dtype=Q4_0)
        w.add_tensor(p + "attn_output.weight", q4_0(rng, d, d), raw_dtype=Q4_0)
        w.add_tensor(p + "ffn_norm.weight", ones)
        w.add_tensor(p + "ffn_gate.weight", q4_0(rng, s["n_ff"], d), raw_dtype=Q4_0)
        w.add_tensor(p + "ffn_up.weight", q4_0(rng, s["n_ff"], d), raw_dtype=Q4_0)
        w.add_tensor(p + "ffn_down.weight", q4_0(rng, d, s["n_ff"]), raw_dtype=Q4_0)
    w.add_tensor("output_norm.weight", ones)
    if not s["tied"]:
        w.add_tensor("output.weight", q4_0(rng, s["n_vocab"], d), raw_dtype=Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
