"""The one table of GGML tensor types on the Python side: ids, block sizes, bytes per block.

The WebGPU engine keeps its own copy of this table (site/engine/webgpu/tensor-types.mjs); tests
check that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorType:
    name: str
    type_id: int
    block_size: int
    block_bytes: int

    def nbytes(self, n_elements: int) -> int:
        if n_elements % self.block_size:
            raise ValueError(f"{n_elements} elements is not a whole number of {self.name} blocks")
        return n_elements // self.block_size * self.block_bytes


TENSOR_TYPES: dict[int, TensorType] = {
    t.type_id: t
    for t in (
        TensorType("F32", 0, 1, 4),
        TensorType("F16", 1, 1, 2),
        TensorType("Q4_0", 2, 32, 18),
        TensorType("Q4_1", 3, 32, 20),
        TensorType("Q5_0", 6, 32, 22),
        TensorType("Q5_1", 7, 32, 24),
        TensorType("Q8_0", 8, 32, 34),
        TensorType("Q8_1", 9, 32, 36),
        TensorType("Q2_K", 10, 256, 84),
        TensorType("Q3_K", 11, 256, 110),
        TensorType("Q4_K", 12, 256, 144),
        TensorType("Q5_K", 13, 256, 176),
        TensorType("Q6_K", 14, 256, 210),
        TensorType("Q8_K", 15, 256, 292),
        # The i-quants: llama.cpp (the CPU engine) runs them, the GPU engine has no kernel for them.
        TensorType("IQ2_XXS", 16, 256, 66),
        TensorType("IQ2_XS", 17, 256, 74),
        TensorType("IQ3_XXS", 18, 256, 98),
        TensorType("IQ1_S", 19, 256, 50),
        TensorType("IQ4_NL", 20, 32, 18),
        TensorType("IQ3_S", 21, 256, 110),
        TensorType("IQ2_S", 22, 256, 82),
        TensorType("IQ4_XS", 23, 256, 136),
        TensorType("IQ1_M", 29, 256, 56),
        TensorType("BF16", 30, 1, 2),
    )
}

# What the WebGPU engine can run (issue: F32, F16, Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q5_K, Q6_K).
ENGINE_SUPPORTED = frozenset({"F32", "F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q4_K", "Q5_K", "Q6_K"})


def tensor_type(type_id: int) -> TensorType:
    try:
        return TENSOR_TYPES[type_id]
    except KeyError:
        raise ValueError(f"unknown GGML tensor type id {type_id}") from None
