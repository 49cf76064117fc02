"""Turn a whole conversation into one prompt string for a text-in/text-out backend.

Templates receive messages already normalised by `tool_emulation.flatten_messages`:
roles system/user/assistant/tool, `content` always a string (assistant tool calls are
already written out as text). Built-in templates need no dependency; a user template
file (a Jinja chat template, or a Hugging Face `tokenizer_config.json` that carries one)
needs jinja2 (`pip install 'evalpack[adapter]'`).

The BOS token is left out of the built-in templates on purpose: text backends
(TGI, Triton, most in-house servers) tokenize the prompt with special tokens on, so
they add BOS themselves and a second one would change the model's input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from evalpack.errors import UsageError


@dataclass
class ChatTemplate:
    name: str
    render_fn: Callable[[list[dict], list[dict] | None], str]
    # Strings that end the assistant's turn: sent to the backend as stop sequences
    # and cut from the reply, for backends that return them or do not stop there.
    stop: list[str] = field(default_factory=list)
    # True when the template renders `tools` and OpenAI-shaped tool calls itself
    # (a model's own chat template); then no emulation instruction is added.
    native_tools: bool = False

    def render(self, messages: list[dict], tools: list[dict] | None = None) -> str:
        return self.render_fn(messages, tools)


def _chatml(messages: list[dict], tools: list[dict] | None) -> str:
    # Tool results go back in a user turn wrapped in <tool_response>, the convention
    # of the most widely used ChatML models (Qwen2/2.5/3).
    parts = []
    previous_role = None
    for message in messages:
        role, content = message["role"], message.get("content") or ""
        if role == "tool":
            block = f"<tool_response>\n{content}\n</tool_response>"
            if previous_role == "tool":  # consecutive results share one user turn
                parts[-1] = parts[-1][: -len("<|im_end|>\n")] + "\n" + block + "<|im_end|>\n"
            else:
                parts.append(f"<|im_start|>user\n{block}<|im_end|>\n")
        else:
            parts.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
        previous_role = role
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def _llama3(messages: list[dict], tools: list[dict] | None) -> str:
    # Llama 3.1+ puts tool output in the `ipython` role.
    parts = []
    for message in messages:
        role = "ipython" if message["role"] == "tool" else message["role"]
        content = (message.get("content") or "").strip()
        parts.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>")
    parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(parts)


BUILTIN = {
    "chatml": lambda: ChatTemplate("chatml", _chatml, stop=["<|im_end|>"]),
    "llama3": lambda: ChatTemplate("llama3", _llama3, stop=["<|eot_id|>", "<|eom_id|>"]),
}


END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|END_OF_TURN_TOKEN|>")


def _token_text(value) -> str:
    # tokenizer_config.json writes special tokens either as "..." or {"content": "..."}.
    if isinstance(value, dict):
        return str(value.get("content") or "")
    return str(value or "")


def _raise_exception(message):
    raise UsageError(f"the chat template refused the conversation: {message}")


def load_jinja_template(path: Path, native_tools: bool = False) -> ChatTemplate:
    try:
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise UsageError(
            "--chat-template with a file needs jinja2; install it with "
            "`pip install 'evalpack[adapter]'` (or `pip install jinja2`).") from None
    if not path.is_file():
        raise UsageError(f"--chat-template: no file {str(path)!r}; give chatml, llama3 or a template file.")
    text = path.read_text(encoding="utf-8")
    eos = ""
    if path.suffix == ".json":  # a Hugging Face tokenizer_config.json
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--chat-template: {path} is not valid JSON ({exc}).") from None
        template = config.get("chat_template")
        if isinstance(template, list):  # named templates: prefer the tool-aware one when asked
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("tool_use") if native_tools and "tool_use" in named else named.get("default")
        if not isinstance(template, str):
            raise UsageError(f"--chat-template: {path} has no `chat_template` string.")
        text = template
        eos = _token_text(config.get("eos_token"))
    # Same environment settings as Hugging Face's apply_chat_template, so model
    # templates render exactly as they do there.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda value, indent=None, **_: json.dumps(
        value, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: __import__("datetime").datetime.now().strftime(fmt)
    try:
        compiled = env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"--chat-template: {path} line {exc.lineno}: {exc.message}.") from None

    def render(messages: list[dict], tools: list[dict] | None) -> str:
        # Templates written for transformers strip a leading BOS themselves only
        # sometimes; passing bos_token="" keeps a double BOS out (see module doc).
        return compiled.render(messages=messages, tools=tools or None, add_generation_prompt=True,
                               bos_token="", eos_token=eos)

    # End-of-turn markers the template writes are stop strings too (a bare .jinja file
    # has no eos_token to tell).
    stop = list(dict.fromkeys([eos] * bool(eos) + [m for m in END_OF_TURN if m in text]))
    return ChatTemplate(path.name, render, stop=stop, native_tools=native_tools)


def get_template(spec: str, native_tools: bool = False) -> ChatTemplate:
    """`chatml`, `llama3`, or a path to a Jinja template / tokenizer_config.json."""
    if spec in BUILTIN:
        if native_tools:
            raise UsageError("--tool-mode template needs a model's own Jinja chat template file; "
                             "the built-in templates only support --tool-mode emulate.")
        return BUILTIN[spec]()
    return load_jinja_template(Path(spec), native_tools=native_tools)
