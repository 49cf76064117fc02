"""Java and JavaScript argument values, as BFCL scores them.

For the Java and JavaScript categories the model passes every argument as a
string holding source text (`"true"`, `"5L"`, `"new ArrayList<>(Arrays.asList(1, 2))"`).
The checker turns that text into a Python value before comparing it with the
possible answers. Text that does not have the expected shape stays a string,
which then fails the type check (as in BFCL). Only the shapes BFCL accepts are
recognised; everything here is regular-expression based, as upstream's is.
"""

from __future__ import annotations

import re

JAVA_TYPES: dict[str, type] = {
    "byte": int, "short": int, "integer": int, "long": int,
    "float": float, "double": float, "boolean": bool, "char": str,
    "Array": list, "ArrayList": list, "Set": set, "HashMap": dict, "Hashtable": dict,
    "Queue": list, "Stack": list, "String": str, "any": str,
}
JS_TYPES: dict[str, type] = {
    "String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool,
    "dict": dict, "array": list, "any": str,
}
COLLECTION_TYPES = ("Array", "ArrayList", "array")

_INT = re.compile(r"-?\d+")
_JAVA_FLOAT = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]")
_JAVA_DOUBLE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_JAVA_LONG = re.compile(r"-?\d+[lL]")


# ---------------------------------------------------------------- Java
def java_value(text: str, java_type: str, item_type: str | None = None):
    if java_type in ("byte", "short", "integer"):
        return int(text) if _INT.fullmatch(text) else text
    if java_type == "float":
        return float(text[:-1]) if _JAVA_FLOAT.fullmatch(text) else text
    if java_type == "double":
        return float(text) if _JAVA_DOUBLE.fullmatch(text) else text
    if java_type == "long":
        return int(text[:-1]) if _JAVA_LONG.fullmatch(text) else text
    if java_type == "boolean":
        return text == "true" if text in ("true", "false") else text
    if java_type == "ArrayList":
        return _java_arraylist(text, item_type)
    if java_type == "Array":
        return _java_array(text, item_type)
    if java_type == "HashMap":
        return _java_hashmap(text)
    if java_type in ("Set", "Hashtable", "Queue", "Stack"):
        raise NotImplementedError(f"{java_type} values are not converted (as in BFCL)")
    return str(text)  # String, char, any


def _number_or_text(text: str):
    """An untyped literal that is not a bool or a quoted string: int, else float, else the text."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _java_literal(text: str):
    """A Java literal whose type is not declared."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if _JAVA_LONG.fullmatch(text):
        return int(text[:-1])
    if _JAVA_FLOAT.fullmatch(text):
        return float(text[:-1])
    return _number_or_text(text)


def _java_element(text: str, item_type: str | None):
    if item_type in ("char", "String"):
        return text[1:-1]
    return java_value(text, item_type) if item_type else _java_literal(text)


def _java_arraylist(text: str, item_type: str | None):
    m = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", text)
    if m:
        return [_java_element(e.strip(), item_type) for e in m.group(1).split(",")]
    m = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", text, re.DOTALL)
    if m:
        return [_java_element(e.strip(), item_type) for e in re.findall(r"add\((.+?)\)", m.group(1))]
    if re.search(r"new\s+ArrayList<\w*>\(\)", text):
        return []
    return text


def _java_array(text: str, item_type: str | None):
    m = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", text)
    if not m:
        return text
    parts = [p.strip() for p in m.group(1).split(",") if p.strip()]
    if item_type:
        return [java_value(p, item_type) for p in parts]
    return [_java_literal(p) for p in parts]


def _java_hashmap(text: str):
    m = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", text, re.DOTALL)
    if m:
        return {k: _java_literal(v.strip())
                for k, v in re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", m.group(1))}
    if re.search(r"new\s+HashMap<.*?>\s*\(\)", text):
        return {}
    return text


# ---------------------------------------------------------- JavaScript
def js_value(text: str, js_type: str, item_type: str | None = None):
    if js_type == "String":
        quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
        return text[1:-1] if quoted else str(text)
    if js_type == "integer":
        return int(text) if _INT.fullmatch(text) else text
    if js_type == "float":
        return float(text) if re.fullmatch(r"-?\d+(\.\d+)?", text) else text
    if js_type == "Bigint":
        return int(text[:-1]) if re.fullmatch(r"-?\d+n", text) else text
    if js_type == "Boolean":
        return text == "true" if text in ("true", "false") else text
    if js_type == "dict":
        return _js_object(text.strip())
    if js_type == "array":
        return _js_array(text.strip(), item_type)
    return str(text)  # any


def _js_literal(text: str):
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return _number_or_text(text)


def _js_array(code: str, item_type: str | None):
    nested = re.match(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)",
                      code)
    try:
        if nested:
            rows = []
            for i, inner in enumerate(re.findall(r"\[(.*?)\]", nested.group(0))):
                inner = inner.strip()
                if i == 0 and inner.startswith("["):
                    inner = inner[1:]
                rows.append([_js_literal(e.strip()) for e in inner.split(",")])
            return rows
        flat = re.match(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)", code)
        if not flat:
            return code
        body = flat.group(1) if flat.group(1) is not None else (flat.group(2) or "")
        parts = body.strip().split(",") if body.strip() else []
        if item_type:
            return [js_value(p.strip(), item_type) for p in parts]
        return [_js_literal(p) for p in parts]
    except (ValueError, NotImplementedError):
        return code


def _js_object(code: str):
    if code == "{}":
        return {}
    m = re.match(r"\{(.*?)\}", code)
    if not m:
        return code
    out = {}
    for key, value in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", m.group(1)):
        key, value = key.strip().strip("'\""), value.strip()
        if value.startswith("[") and value.endswith("]"):
            out[key] = _js_array(value, None)
        elif value.startswith("{") and value.endswith("}"):
            out[key] = _js_object(value)
        else:
            out[key] = _js_literal(value.strip("'\""))
    return out
