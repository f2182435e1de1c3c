"""Chat prompts from the model's own template."""

from __future__ import annotations

import pytest

from pyapp.model.chat import ChatFormat, ChatTemplateError
from pyapp.model.gguf import read_header


def test_real_smollm2_template_renders_chatml(smollm2_path) -> None:
    with smollm2_path.open("rb") as f:
        header = read_header(f.read(4 << 20))
    chat = ChatFormat(header.metadata["tokenizer.chat_template"])
    prompt = chat.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert prompt == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_missing_template_falls_back_to_chatml() -> None:
    prompt = ChatFormat(None).render([{"role": "user", "content": "Hi"}], add_generation_prompt=False)
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n"


def test_llama3_style_template_gets_bos_token() -> None:
    template = (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    prompt = ChatFormat(template, bos_token="<|begin_of_text|>").render([{"role": "user", "content": " Hi "}])
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>user")
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_template_raise_exception_becomes_clear_error() -> None:
    chat = ChatFormat("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(ChatTemplateError, match="roles must alternate"):
        chat.render([{"role": "user", "content": "x"}])


def test_template_cannot_reach_python_internals() -> None:
    chat = ChatFormat("{{ messages.__class__.__mro__ }}")
    with pytest.raises(ChatTemplateError):
        chat.render([{"role": "user", "content": "x"}])


def test_broken_template_syntax() -> None:
    with pytest.raises(ChatTemplateError, match="invalid"):
        ChatFormat("{% for %}").render([])
