"""Prompt mode, for servers without tool support.

The function docs go into the system prompt as JSON and the model answers with
Python call syntax, `[func_a(x=1, y="s"), func_b(z=[1, 2])]`. Replies are read
with the `ast` module (never executed). The prompt carries the same
instructions as BFCL's default prompt (python return format, JSON docs,
plain-text layout), in our own words.
"""

from __future__ import annotations

import ast
import json
import operator

CALL_FORMAT = "[func_name1(param_a=value_a, param_b=value_b...), func_name2(params)]"


def system_prompt(functions: list[dict]) -> str:
    return (
        "You are an expert in composing functions. You receive a question and a set of "
        "functions; make one or more function calls to achieve the purpose. If no function "
        "applies, say so. If the question lacks parameters a function requires, say so too.\n"
        "Reply with the function calls only.\n\n"
        f"When you call functions, write them exactly in the format {CALL_FORMAT} and include "
        "no other text in that reply.\n\n"
        "In each turn, do your best to complete the user's request within the turn: keep "
        "calling functions until it is fulfilled as far as you can. When you have no more "
        "functions to call, the turn ends and the next turn or task begins.\n\n"
        f"These are the functions you can call, in JSON format:\n{json.dumps(functions, indent=4)}\n")


def with_system_prompt(messages: list[dict], functions: list[dict]) -> list[dict]:
    """Put the prompt first; an entry's own system message is appended after it (as BFCL does)."""
    messages = [dict(m) for m in messages]
    prompt = system_prompt(functions)
    if messages and messages[0]["role"] == "system":
        messages[0]["content"] = prompt + "\n\n" + messages[0]["content"]
    else:
        messages.insert(0, {"role": "system", "content": prompt})
    return messages


def added_functions_message(functions: list[dict]) -> str:
    """miss_func: the user turn that announces the withheld functions (prompt mode lists them)."""
    return f"{json.dumps(functions)}\n{ADDED_FUNCTIONS_TEXT}"


ADDED_FUNCTIONS_TEXT = "I have updated some more functions you can choose from. What about now?"


def tool_results_message(calls: list[str], results: list[str]) -> dict:
    """Execution results go back as one user message (prompt-mode servers may lack the tool role)."""
    return {"role": "user", "content": repr([{"role": "tool", "name": c, "content": r}
                                             for c, r in zip(calls, results)])}


# ------------------------------------------------------------------ parsing
def decode_reply(text: str | None, language: str = "python") -> list[dict]:
    """`[f(a=1), g(b="x")]` -> `[{"f": {"a": 1}}, {"g": {"b": "x"}}]`. Raises ValueError if unreadable."""
    if text is None:
        raise ValueError("empty reply")
    text = text.strip("`\n ")
    if not text.startswith("["):
        text = "[" + text
    if not text.endswith("]"):
        text = text + "]"
    if language != "python":
        return decode_source_calls(text[1:-1])
    try:
        tree = ast.parse(text.strip().strip("'"), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"not Python call syntax: {e}") from None
    body = tree.body
    nodes = [body] if isinstance(body, ast.Call) else getattr(body, "elts", None)
    if nodes is None:
        raise ValueError("expected a list of calls")
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            raise ValueError("list element is not a call")
        calls.append(_call(node))
    return calls


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _call(node: ast.Call) -> dict:
    return {_dotted(node.func): {kw.arg: _value(kw.value) for kw in node.keywords}}


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow, ast.Mod: operator.mod,
           ast.FloorDiv: operator.floordiv}


def _value(node):
    """A literal argument. Names read as their text, bare calls as source text (as BFCL does)."""
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _value(node.operand)
        if isinstance(node.op, ast.USub) and isinstance(inner, (int, float)):
            return -inner
        return inner
    if isinstance(node, ast.List):
        return [_value(v) for v in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(v) for v in node.elts)
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        # arithmetic on literals (e.g. 3*4); evaluated on the parsed numbers, never with eval
        left, right = _value(node.left), _value(node.right)
        try:
            return _BINOPS[type(node.op)](left, right)
        except Exception:
            return ast.unparse(node)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _call(node) if node.keywords else ast.unparse(node)
    return ast.unparse(node)


def decode_source_calls(text: str) -> list[dict]:
    """Java/JavaScript answers: `func(a=<source>, b="str")`; values stay source text, top-level
    string literals lose their quotes. (BFCL uses tree-sitter here; this reads the same shape.)"""
    calls = []
    for piece in _split_top(text, ","):
        piece = piece.strip()
        if not piece:
            continue
        open_at = piece.find("(")
        if open_at <= 0 or not piece.endswith(")"):
            raise ValueError(f"not a call: {piece[:80]!r}")
        name = piece[:open_at].strip()
        args = {}
        for arg in _split_top(piece[open_at + 1:-1], ","):
            if not arg.strip():
                continue
            key, sep, value = arg.partition("=")
            if not sep or not key.strip().isidentifier():
                raise ValueError(f"argument without a name: {arg[:80]!r}")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            args[key.strip()] = value
        calls.append({name: args})
    return calls


def _split_top(text: str, sep: str) -> list[str]:
    """Split at `sep` outside brackets and string literals."""
    parts, depth, angle, quote, start, i = [], 0, 0, None, 0, 0
    while i < len(text):
        ch = text[i]
        prev = text[i - 1] if i else ""
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "<" and (prev.isalnum() or prev == "_"):  # generics: HashMap<String, Object>
            angle += 1
        elif ch == ">" and angle and prev != "=":
            angle -= 1
        elif ch == sep and depth == 0 and angle == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts
