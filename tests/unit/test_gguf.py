"""The GGUF header reader on files written by the reference `gguf` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFWriter

from pyapp.model.gguf import GGUFError, GGUFTruncated, check_tensor_extents, read_header


def write_model(path: Path, arch: str = "llama") -> Path:
    writer = GGUFWriter(str(path), arch)
    writer.add_context_length(512)
    writer.add_block_count(1)
    writer.add_string("tokenizer.chat_template", "{{ messages }}")
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "a", "b"])
    writer.add_array("tokenizer.ggml.scores", [0.0, -1.5, -2.5])
    writer.add_tensor("token_embd.weight", np.arange(3 * 32, dtype=np.float32).reshape(3, 32))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def model_bytes(tmp_path: Path) -> bytes:
    return write_model(tmp_path / "m.gguf").read_bytes()


def test_reads_metadata_and_tensor_directory(model_bytes: bytes) -> None:
    header = read_header(model_bytes)
    assert header.architecture == "llama"
    assert header.arch_value("context_length") == 512
    assert header.metadata["tokenizer.ggml.tokens"] == ["<s>", "a", "b"]
    assert header.metadata["tokenizer.ggml.scores"] == pytest.approx([0.0, -1.5, -2.5])
    embd = header.tensors["token_embd.weight"]
    assert embd.shape == (32, 3) and embd.type.name == "F32" and embd.nbytes == 3 * 32 * 4
    assert header.tensors["output_norm.weight"].type.name == "F16"
    assert header.data_offset % 32 == 0
    start = header.data_offset + embd.offset
    first_row = np.frombuffer(model_bytes[start:start + 32 * 4], dtype=np.float32)
    assert first_row.tolist() == list(range(32))


def test_prefix_too_short_says_how_much_it_needs(model_bytes: bytes) -> None:
    header_end = read_header(model_bytes).data_offset
    with pytest.raises(GGUFTruncated) as short:
        read_header(model_bytes[: header_end // 2])
    assert header_end // 2 < short.value.needed <= header_end


def test_truncated_weights_are_detected(model_bytes: bytes) -> None:
    header = read_header(model_bytes)
    check_tensor_extents(header, len(model_bytes))
    with pytest.raises(GGUFError, match="truncated"):
        check_tensor_extents(header, len(model_bytes) - 10)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04" + bytes(40), "not a GGUF file"),
        (b"GGUF" + (7).to_bytes(4, "little") + bytes(16), "version 7"),
        (b"GGUF" + (3).to_bytes(4, "little") + (1 << 40).to_bytes(8, "little") + bytes(8), "implausible"),
    ],
)
def test_garbage_gets_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(GGUFError, match=message):
        read_header(data)


def test_unknown_tensor_type_is_named(model_bytes: bytes, tmp_path: Path) -> None:
    header = read_header(model_bytes)
    corrupt = bytearray(model_bytes)
    name = b"output_norm.weight"
    at = corrupt.index(name) + len(name) + 4 + 8  # n_dims, one dim
    corrupt[at:at + 4] = (99).to_bytes(4, "little")
    assert header.tensors["output_norm.weight"].type.type_id == 1
    with pytest.raises(GGUFError, match="output_norm.weight.*type id 99"):
        read_header(bytes(corrupt))


def test_real_model_header(smollm2_path: Path) -> None:
    with smollm2_path.open("rb") as f:
        header = read_header(f.read(4 << 20))
    assert header.architecture == "llama"
    assert header.arch_value("block_count") == 30
    assert len(header.tensors) == 272
    check_tensor_extents(header, smollm2_path.stat().st_size)
