"""The precision path the engine picks and says it runs. SwiftShader has no shader-f16, so here
the f32 path must be chosen and the f16 one refused with a reason; the f16 path itself is checked
against the f32 one on a GPU that has it (`bash bench/gpu_machine.sh precision`)."""

from __future__ import annotations

import pytest

from tests.fixtures.synthetic_gguf import model_path

pytestmark = pytest.mark.browser


def test_auto_precision_follows_shader_f16_and_is_named(harness, synthetic_dir):
    url = f"/synthetic/{model_path(synthetic_dir, 'llama', 'Q4_0').name}"
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        const info = await e.load(arg.url);
        const hasF16 = e.device.features.has("shader-f16");
        await e.unload();
        return {engine: info.engine, hasF16};
    """, {"url": url})
    assert result["ok"], result
    expected = "webgpu-f16" if result["value"]["hasF16"] else "webgpu-f32"
    assert result["value"]["engine"] == expected


def test_asking_for_f16_without_shader_f16_is_refused_with_the_reason(harness):
    result = harness.call("""
        const adapter = await navigator.gpu.requestAdapter();
        if (adapter.features.has("shader-f16")) return "has shader-f16";
        await window.harness.createWebGPUEngine({precision: "f16"});
    """)
    if result.get("value") == "has shader-f16":
        pytest.skip("this GPU has shader-f16")
    assert not result["ok"]
    assert result["error"]["kind"] == "no-webgpu"
    assert "shader-f16" in result["error"]["message"]
