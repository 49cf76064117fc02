"""How a request to each kind of backend is built and its reply read back.

A preset turns (prompt, generation parameters) into a JSON body for the backend URL
and reads the text, token counts and finish reason from the JSON it returns.

- `generic`: a plain prompt -> text JSON API; every field name is configurable
  (`--field prompt=inputs --field max_tokens=parameters.max_length --field text=0.generated_text`).
- `tgi`: Hugging Face text-generation-inference `POST /generate`.
- `triton`: Triton's generate extension `POST /v2/models/<model>/generate`
  (TensorRT-LLM ensemble input names by default; see docs/adapter.md for vLLM-on-Triton).
- `template`: a JSON request template with `{{prompt}}`-style placeholders plus a
  JSON path (`--reply-path`) to the reply text, for anything else.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from evalpack.errors import UsageError


class BadBackendReply(Exception):
    """The backend answered 2xx with a body the preset cannot read."""


@dataclass
class Generation:
    """The request parameters a text backend can honour."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None

    def value(self, name: str):
        return getattr(self, name)


@dataclass
class BackendReply:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None  # already in OpenAI terms: stop / length


# ---- JSON paths ----------------------------------------------------------------------

_PATH_PART = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def parse_path(path: str) -> list[str | int]:
    """`a.b[0].c`, `$.a.b.0.c` -> ["a", "b", 0, "c"]; `$` -> [] (the whole reply)."""
    text = path.strip()
    if text == "$":
        return []
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_PART.match(text, pos)
        if not match:
            raise UsageError(f"JSON path {path!r} is not of the form a.b[0].c.")
        index, key = match.groups()
        parts.append(int(index) if index is not None else (int(key) if key.isdigit() else key))
        pos = match.end()
    if not parts:
        raise UsageError(f"JSON path {path!r} is empty.")
    return parts


def get_path(document, parts: list[str | int]):
    value = document
    for part in parts:
        if isinstance(part, int) and isinstance(value, list):
            if part >= len(value):
                raise KeyError(part)
            value = value[part]
        elif isinstance(value, dict) and str(part) in value:
            value = value[str(part)]
        else:
            raise KeyError(part)
    return value


def set_path(document: dict, parts: list[str | int], value) -> None:
    target = document
    for part in parts[:-1]:
        target = target.setdefault(str(part), {})
    target[str(parts[-1])] = value


def _optional_int(document, parts):
    if not parts:
        return None
    try:
        value = get_path(document, parts)
    except (KeyError, TypeError):
        return None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(document, parts, path_name: str) -> str:
    try:
        value = get_path(document, parts)
    except (KeyError, TypeError):
        raise BadBackendReply(f"the backend's reply has no {path_name} "
                              f"(got keys: {_keys(document)})") from None
    if isinstance(value, list) and len(value) == 1:  # Triton returns 1-element tensors as lists
        value = value[0]
    if not isinstance(value, str):
        raise BadBackendReply(f"{path_name} in the backend's reply is {type(value).__name__}, not text")
    return value


def _keys(document) -> str:
    if isinstance(document, dict):
        return ", ".join(list(document)[:10]) or "none"
    return type(document).__name__


# Backend finish reasons in OpenAI terms (TGI, llama.cpp's `stop_type`, vLLM, common APIs).
FINISH_REASONS = {"length": "length", "max_tokens": "length", "max_length": "length", "limit": "length",
                  "stop": "stop", "word": "stop", "eos_token": "stop", "stop_sequence": "stop", "eos": "stop",
                  "end_turn": "stop"}


def _finish(value) -> str | None:
    if value is None:
        return None
    return FINISH_REASONS.get(str(value).lower(), "stop")


# ---- presets ----------------------------------------------------------------------

class Preset:
    name = ""
    # True when the reply text is the whole body (`--reply-path '$'`): a body that is
    # not JSON is then taken as plain text.
    plain_text_reply = False

    def body(self, prompt: str, generation: Generation) -> dict:
        raise NotImplementedError

    def reply(self, document: Any, headers) -> BackendReply:
        raise NotImplementedError


# Request fields a --field may name, and the reply fields it may point at.
REQUEST_FIELDS = ("prompt", "max_tokens", "temperature", "top_p", "stop", "seed")
REPLY_FIELDS = ("text", "prompt_tokens", "completion_tokens", "finish_reason")


class FieldMapPreset(Preset):
    """A flat prompt -> text API described by field names (dotted paths allowed)."""

    def __init__(self, name: str, fields: dict[str, str], extra_body: dict | None = None):
        self.name = name
        self.request_paths = {k: parse_path(v) for k, v in fields.items()
                              if k in REQUEST_FIELDS and v}
        self.reply_paths = {k: parse_path(v) for k, v in fields.items() if k in REPLY_FIELDS and v}
        if "prompt" not in self.request_paths or "text" not in self.reply_paths:
            raise UsageError(f"--preset {name} needs the prompt and text fields "
                             "(--field prompt=NAME, --field text=PATH).")
        self.extra_body = extra_body or {}
        self.plain_text_reply = self.reply_paths["text"] == []

    def body(self, prompt: str, generation: Generation) -> dict:
        document = copy.deepcopy(self.extra_body)
        for name, path in self.request_paths.items():
            value = prompt if name == "prompt" else generation.value(name)
            if value is None or value == []:
                continue  # unset: leave it to the backend's default
            set_path(document, path, value)
        return document

    def reply(self, document: Any, headers) -> BackendReply:
        finish = None
        if "finish_reason" in self.reply_paths:
            try:
                finish = _finish(get_path(document, self.reply_paths["finish_reason"]))
            except (KeyError, TypeError):
                finish = None
        return BackendReply(
            text=_text(document, self.reply_paths["text"], f"`{_show(self.reply_paths['text'])}`"),
            prompt_tokens=_optional_int(document, self.reply_paths.get("prompt_tokens")),
            completion_tokens=_optional_int(document, self.reply_paths.get("completion_tokens")),
            finish_reason=finish)


def _show(parts) -> str:
    return ".".join(str(p) for p in parts) or "$"


class TGIPreset(Preset):
    """text-generation-inference `POST /generate`.

    TGI rejects temperature 0 and top_p outside (0, 1), allows at most 4 stop
    sequences by default, and reports token counts in `x-prompt-tokens` /
    `x-generated-tokens` response headers (and `details.generated_tokens`).
    """

    name = "tgi"
    max_stop = 4  # TGI's default --max-stop-sequences; the adapter cuts at the others itself

    def body(self, prompt: str, generation: Generation) -> dict:
        parameters: dict[str, Any] = {"details": True}
        if generation.max_tokens is not None:
            parameters["max_new_tokens"] = generation.max_tokens
        if generation.temperature:
            parameters["do_sample"] = True
            parameters["temperature"] = generation.temperature
        else:
            parameters["do_sample"] = False  # temperature 0 means greedy
        if generation.top_p is not None and 0 < generation.top_p < 1:
            parameters["top_p"] = generation.top_p
        if generation.stop:
            parameters["stop"] = generation.stop[: self.max_stop]
        if generation.seed is not None:
            parameters["seed"] = generation.seed
        return {"inputs": prompt, "parameters": parameters}

    def reply(self, document: Any, headers) -> BackendReply:
        if isinstance(document, list) and document:  # the HF Inference API shape
            document = document[0]
        text = _text(document, ["generated_text"], "`generated_text`")
        details = document.get("details") or {}
        completion = _header_int(headers, "x-generated-tokens")
        if completion is None and isinstance(details.get("generated_tokens"), int):
            completion = details["generated_tokens"]
        return BackendReply(text=text, prompt_tokens=_header_int(headers, "x-prompt-tokens"),
                            completion_tokens=completion,
                            finish_reason=_finish(details.get("finish_reason")))


def _header_int(headers, name: str) -> int | None:
    value = (headers or {}).get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class TemplatePreset(Preset):
    """Any JSON API: a request template with placeholders and JSON paths for the reply.

    A string that is exactly `{{name}}` is replaced by the typed value (a number, a list,
    or the key is dropped when the value is unset); `{{name}}` inside a longer string is
    replaced by its text. Names: prompt, max_tokens, temperature, top_p, stop, seed, model.
    """

    name = "template"
    _PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
    _DROP = object()

    def __init__(self, template: dict, fields: dict[str, str], model: str):
        self.template = template
        self.model = model
        self.reply_paths = {k: parse_path(v) for k, v in fields.items() if k in REPLY_FIELDS and v}
        if "text" not in self.reply_paths:
            raise UsageError("--preset template needs --reply-path (where the text is in the reply).")
        names = set(self._PLACEHOLDER.findall(json.dumps(template)))
        unknown = names - set(REQUEST_FIELDS) - {"model"}
        if unknown:
            raise UsageError(f"--request-template: unknown placeholder(s) {sorted(unknown)}; "
                             f"known: {', '.join(REQUEST_FIELDS + ('model',))}.")
        if "prompt" not in names:
            raise UsageError("--request-template must contain {{prompt}} somewhere.")
        self._fields = FieldMapPreset("template", {"prompt": "prompt", **fields})
        self.plain_text_reply = self._fields.plain_text_reply

    def body(self, prompt: str, generation: Generation) -> dict:
        values = {"prompt": prompt, "model": self.model,
                  **{n: generation.value(n) for n in REQUEST_FIELDS if n != "prompt"}}
        return self._fill(copy.deepcopy(self.template), values)

    def _fill(self, node, values):
        if isinstance(node, dict):
            filled = {k: self._fill(v, values) for k, v in node.items()}
            return {k: v for k, v in filled.items() if v is not self._DROP}
        if isinstance(node, list):
            return [v for v in (self._fill(x, values) for x in node) if v is not self._DROP]
        if isinstance(node, str):
            whole = self._PLACEHOLDER.fullmatch(node.strip())
            if whole:
                value = values.get(whole.group(1))
                return self._DROP if value is None or value == [] else value
            return self._PLACEHOLDER.sub(
                lambda m: "" if values.get(m.group(1)) is None else str(values[m.group(1)]), node)
        return node

    def reply(self, document: Any, headers) -> BackendReply:
        return self._fields.reply(document, headers)


GENERIC_FIELDS = {"prompt": "prompt", "max_tokens": "max_new_tokens",
                  "temperature": "temperature", "text": "text"}
# TensorRT-LLM's ensemble model inputs; the generate extension maps top-level keys to inputs.
TRITON_FIELDS = {"prompt": "text_input", "max_tokens": "max_tokens", "temperature": "temperature",
                 "top_p": "top_p", "stop": "stop_words", "seed": "random_seed", "text": "text_output"}

PRESETS = ("generic", "tgi", "triton", "template")


def parse_fields(items: list[str] | None) -> dict[str, str]:
    fields = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in REQUEST_FIELDS + REPLY_FIELDS:
            raise UsageError(f"--field {item!r}: write NAME=FIELD with NAME one of "
                             f"{', '.join(REQUEST_FIELDS + REPLY_FIELDS)} (empty FIELD: do not send).")
        fields[name] = value.strip()
    return fields


def make_preset(name: str, *, fields: dict[str, str] | None = None, extra_body: dict | None = None,
                request_template: dict | None = None, model: str = "") -> Preset:
    fields = dict(fields or {})
    if name == "generic":
        return FieldMapPreset("generic", {**GENERIC_FIELDS, **fields}, extra_body)
    if name == "triton":
        return FieldMapPreset("triton", {**TRITON_FIELDS, **fields}, extra_body)
    if name == "tgi":
        if fields or extra_body:
            raise UsageError("--preset tgi takes no --field/--extra-body; use --preset generic "
                             "or template for a TGI-like API with other field names.")
        return TGIPreset()
    if name == "template":
        if not isinstance(request_template, dict):
            raise UsageError("--preset template needs --request-template (a JSON object or a file holding one).")
        return TemplatePreset(request_template, fields, model)
    raise UsageError(f"unknown --preset {name!r}; choose from: {', '.join(PRESETS)}.")
