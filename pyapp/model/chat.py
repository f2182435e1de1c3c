"""Chat prompts rendered from the model's own Jinja chat template (`tokenizer.chat_template`).

The template runs in Jinja2's immutable sandbox: it comes from a file the user may have picked,
so it must not reach Python internals. Models without a template get ChatML, which most small
instruction-tuned models understand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import TypedDict

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class ChatTemplateError(ValueError):
    """The model's chat template cannot be rendered."""


def _raise_exception(message: str) -> None:
    raise ChatTemplateError(f"the model's chat template refused the conversation: {message}")


@lru_cache(maxsize=8)
def _compile(source: str):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: date.today().strftime(fmt)
    try:
        return env.from_string(source)
    except TemplateError as err:
        raise ChatTemplateError(f"the model's chat template is invalid: {err}") from None


class ChatFormat:
    """Renders conversations into prompt text for one model."""

    def __init__(self, template: str | None, bos_token: str = "", eos_token: str = "") -> None:
        self.template_source = template or CHATML_TEMPLATE
        self.bos_token = bos_token
        self.eos_token = eos_token

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        template = _compile(self.template_source)
        try:
            return template.render(
                messages=list(messages),
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except ChatTemplateError:
            raise
        except Exception as err:  # noqa: BLE001 - any failure inside a foreign template
            raise ChatTemplateError(f"the model's chat template failed: {err}") from None
