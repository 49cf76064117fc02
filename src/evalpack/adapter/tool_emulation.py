"""Tool calling for backends that only turn a prompt into text.

Going in: the tools' JSON schemas and an instruction to answer with a JSON tool call
are added to the system message; earlier assistant tool calls are written back in that
same JSON form and tool results become `tool` messages, so the model sees one
consistent convention across turns. Coming out: `parse_tool_calls` finds the calls in
the reply, whatever prose, code fences or tags (`<tool_call>`) the model wrapped
around them, and returns them in OpenAI's shape.
"""

from __future__ import annotations

import ast
import json
import uuid

from evalpack.errors import UsageError

INSTRUCTION = """\
You can call the functions described below (JSON schemas).
When a function call is needed, answer with nothing but one JSON object of this form:
{"tool_calls": [{"name": "<function name>", "arguments": {"<parameter>": <value>}}]}
Put one entry in "tool_calls" per call; several calls are allowed. Use only the \
functions and parameters listed, with values of the declared types.
When no function call is needed, answer in plain text without JSON.
A function's result comes back to you in a later message."""


def content_text(content) -> str:
    """OpenAI message content (string, None or a list of parts) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                texts.append(part)
            else:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise UsageError(f"message content part of type {kind!r} is not supported: "
                                 "the backend takes text only.")
        return "".join(texts)
    raise UsageError("message content must be a string or a list of text parts.")


def _function(tool: dict) -> dict:
    if not isinstance(tool, dict) or tool.get("type", "function") != "function" \
            or not isinstance(tool.get("function"), dict) or not tool["function"].get("name"):
        raise UsageError('each entry of `tools` must be {"type": "function", "function": {"name": ...}}.')
    return tool["function"]


def tool_names(tools: list[dict] | None) -> list[str]:
    return [_function(t)["name"] for t in tools or []]


def instruction(tools: list[dict], tool_choice) -> str:
    schemas = "\n".join(json.dumps(_function(t), ensure_ascii=False) for t in tools)
    text = f"{INSTRUCTION}\n\nFunctions:\n{schemas}"
    if tool_choice == "required":
        text += "\n\nYou must call at least one function in this answer."
    elif isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        if name:
            text += f"\n\nYou must call the function {name} in this answer."
    return text


def _arguments_value(arguments):
    """Arguments as an object when they are JSON, else as given."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except json.JSONDecodeError:
            return arguments
    return arguments


def render_tool_calls(tool_calls: list[dict]) -> str:
    calls = []
    for call in tool_calls:
        function = call.get("function") or {}
        calls.append({"name": function.get("name"),
                      "arguments": _arguments_value(function.get("arguments") or "{}")})
    return json.dumps({"tool_calls": calls}, ensure_ascii=False)


def flatten_messages(messages: list, tools: list[dict] | None, tool_choice=None) -> list[dict]:
    """OpenAI messages -> [{"role", "content": str}] with tools emulated in the text."""
    if not isinstance(messages, list) or not messages:
        raise UsageError("`messages` must be a non-empty list.")
    flat = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in (
                "system", "developer", "user", "assistant", "tool", "function"):
            raise UsageError("each message needs a `role` of system, user, assistant or tool.")
        role = {"developer": "system", "function": "tool"}.get(message["role"], message["role"])
        text = content_text(message.get("content"))
        if role == "assistant" and message.get("tool_calls"):
            calls = render_tool_calls(message["tool_calls"])
            text = f"{text}\n{calls}" if text.strip() else calls
        flat.append({"role": role, "content": text})
    if tools and tool_choice != "none":
        note = instruction(tools, tool_choice)
        if flat[0]["role"] == "system":
            flat[0] = {"role": "system", "content": f"{flat[0]['content']}\n\n{note}"}
        else:
            flat.insert(0, {"role": "system", "content": note})
    return flat


def native_messages(messages: list) -> list[dict]:
    """Messages for a model's own chat template: text content, tool-call arguments as objects
    (the convention Hugging Face chat templates expect)."""
    out = []
    for message in flatten_messages(messages, None):  # validates and normalises roles
        out.append(dict(message))
    for original, converted in zip(messages, out):
        if original.get("tool_calls"):
            converted["content"] = content_text(original.get("content"))
            converted["tool_calls"] = [
                {"id": c.get("id"), "type": "function",
                 "function": {"name": (c.get("function") or {}).get("name"),
                              "arguments": _arguments_value((c.get("function") or {}).get("arguments") or "{}")}}
                for c in original["tool_calls"]]
        if original.get("tool_call_id"):
            converted["tool_call_id"] = original["tool_call_id"]
        if original.get("name"):
            converted["name"] = original["name"]
    return out


# ---- reading calls back -------------------------------------------------------------

# Characters the bracket scan may visit per reply. A reply full of unclosed brackets
# (degenerate repetition) would otherwise cost quadratic time; real calls are found
# long before this.
SCAN_BUDGET = 1_000_000


def _balanced_end(text: str, start: int, budget: list[int]) -> int:
    """Index just past the bracket that closes text[start], honouring quoted strings; -1 if none."""
    closing = {"{": "}", "[": "]"}
    stack = []
    quote = None
    i = start
    while i < len(text) and budget[0] > 0:
        budget[0] -= 1
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in closing:
            stack.append(closing[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return -1
            if not stack:
                return i + 1
        i += 1
    return -1


def _load(fragment: str):
    try:
        return json.loads(fragment)
    except json.JSONDecodeError:
        pass
    try:  # models often write Python literals: single quotes, True/None
        return ast.literal_eval(fragment)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _json_values(text: str):
    """Every top-level JSON (or Python-literal) object or array found in the text."""
    budget = [SCAN_BUDGET]
    i = 0
    while i < len(text) and budget[0] > 0:
        if text[i] in "{[":
            end = _balanced_end(text, i, budget)
            if end > 0:
                value = _load(text[i:end])
                if isinstance(value, (dict, list)):
                    yield value
                    i = end
                    continue
        i += 1


def _calls_in(value, known: set[str], explicit: bool = False) -> list[tuple[str, object]]:
    if isinstance(value, list):
        found = [c for item in value for c in _calls_in(item, known, explicit)]
        return found
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("tool_calls"), list):
        return _calls_in(value["tool_calls"], known, explicit=True)
    if isinstance(value.get("function"), dict):  # OpenAI's own shape
        return _calls_in(value["function"], known, explicit=True)
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return []
    for key in ("arguments", "parameters", "args", "input"):
        if key in value:
            arguments = value[key]
            break
    else:
        arguments = {}
        if not explicit and name not in known:
            return []
    # A bare {"name": ..., "arguments": ...} counts only for a declared function, so
    # JSON that merely has a "name" field in a prose answer is not taken for a call.
    if not explicit and known and name not in known:
        return []
    return [(name, arguments)]


def _arguments_string(arguments) -> str:
    if isinstance(arguments, str):
        parsed = _arguments_value(arguments)
        if isinstance(parsed, dict):
            return json.dumps(parsed, ensure_ascii=False)
        return arguments
    if arguments is None:
        return "{}"
    return json.dumps(arguments, ensure_ascii=False)


def parse_tool_calls(text: str | None, tools: list[dict] | None) -> list[dict]:
    """OpenAI `tool_calls` read from a text reply; [] when it holds none."""
    if not text or "name" not in text:  # every call names its function: skip the scan
        return []
    known = set(tool_names(tools))
    calls = []
    for value in _json_values(text):
        calls.extend(_calls_in(value, known))
    return [{"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
             "function": {"name": name, "arguments": _arguments_string(arguments)}}
            for name, arguments in calls]
