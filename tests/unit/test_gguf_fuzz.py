"""Fuzzing the GGUF header reader: any bytes give a header or a GGUFError, never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyapp.model.gguf import GGUFError, read_header
from tests.unit.test_gguf import write_model


@pytest.fixture(scope="module")
def valid_header_bytes(tmp_path_factory) -> bytes:
    data = write_model(Path(tmp_path_factory.mktemp("fuzz")) / "m.gguf").read_bytes()
    return data[: read_header(data).data_offset]


def parse_or_refuse(data: bytes) -> None:
    try:
        read_header(data)
    except GGUFError:
        pass


@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    parse_or_refuse(b"GGUF" + data)
    parse_or_refuse(data)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(st.data())
def test_mutated_valid_header(valid_header_bytes: bytes, data) -> None:
    mutated = bytearray(valid_header_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    parse_or_refuse(bytes(mutated[:cut]))
