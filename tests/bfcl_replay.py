"""Helpers for BFCL tests: turn possible answers into the calls a perfect model would make."""

from __future__ import annotations

import json

# Entries no answer can satisfy under BFCL's own rules (upstream's checker rejects every
# possible reply too): the possible answer omits a required parameter, names a parameter
# the doc lacks, or expects mixed-type items in a Java ArrayList whose items are `any`
# (which BFCL converts to strings).
UNSATISFIABLE = {
    "simple_python_200": "missing_required",
    "simple_java_36": "value_error:list/tuple",
    "simple_java_65": "value_error:list/tuple",
    "parallel_multiple_26": "parallel:cannot_find_match",
    "live_simple_106-63-0": "missing_required",
    "live_simple_112-68-0": "missing_required",
    "live_multiple_144-56-0": "missing_required",
    "live_multiple_507-149-4": "missing_required",
    "live_multiple_834-178-9": "missing_required",
    "live_multiple_862-181-3": "unexpected_param",
    "live_multiple_964-207-0": "missing_required",
    "live_multiple_1038-265-0": "missing_optional",
}


def pick(values: list):
    """First acceptable value; None when the first option is "" (parameter left out)."""
    return None if not values or values[0] == "" else values[0]


def java_source(value, java_type: str, item_type: str | None = None) -> str:
    if java_type in ("String", "any", "char"):
        return str(value)
    if java_type == "boolean":
        return "true" if value else "false"
    if java_type == "long":
        return f"{int(value)}L"
    if java_type == "float":
        return f"{float(value)}f"
    if java_type in ("Array", "ArrayList"):
        if java_type == "Array":
            # BFCL converts `new T[]{...}` elements with the item type; String items keep their
            # text as written, so they are written without quotes
            items = [str(v) if item_type == "String" else _java_item(v, item_type) for v in value]
            return "new %s[]{%s}" % (_java_type_name(item_type), ", ".join(items))
        items = [_java_item(v, item_type) for v in value]
        return "new ArrayList<>(Arrays.asList(%s))" % ", ".join(items)
    if java_type == "HashMap":
        puts = " ".join(f'put("{k}", {_java_item(v, None)});' for k, v in value.items())
        return "new HashMap<String, Object>() {{ %s }}" % puts
    return str(value)  # integer, short, byte, double


def _java_type_name(item_type):
    return {"integer": "int", "String": "String", "long": "long"}.get(item_type, "Object")


def _java_item(value, item_type):
    if item_type in ("String", "char") or (item_type is None and isinstance(value, str)):
        return f'"{value}"'
    if item_type == "long":
        return f"{value}L"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def js_source(value, js_type: str, item_type: str | None = None) -> str:
    if js_type in ("String", "any"):
        return str(value)
    if js_type == "Boolean":
        return "true" if value else "false"
    if js_type == "Bigint":
        return f"{value}n"
    if js_type in ("array", "dict"):
        return _js_literal(value)
    return str(value)


def _js_literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_js_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_js_literal(v)}" for k, v in value.items()) + "}"
    return str(value)


def _dict_value(option: dict) -> dict:
    """A possible-answer dict (key -> acceptable values) as a concrete dict."""
    return {k: pick(v) for k, v in option.items() if pick(v) is not None}


def _concrete(value, spec: dict):
    if isinstance(value, dict):
        return _dict_value(value)
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value) \
            and spec.get("items", {}).get("type") == "dict":
        return [_dict_value(v) for v in value]
    return value


def perfect_calls(entry: dict, category: str) -> list[dict]:
    """`[{name: {param: value}}]` that the ground truth accepts (values in the model's encoding)."""
    docs = {f["name"]: f for f in entry["function"]}
    calls = []
    for answer in entry["ground_truth"]:
        (name, params), = answer.items()
        props = docs[name]["parameters"]["properties"]
        args = {}
        for param, values in params.items():
            value = pick(values)
            if value is None:
                continue
            spec = props.get(param, {})
            value = _concrete(value, spec)
            if isinstance(value, str) and category in ("simple_java", "simple_javascript"):
                pass  # a variable name (or a String): passed through as source text
            elif category == "simple_java":
                value = java_source(value, spec.get("type"), spec.get("items", {}).get("type"))
            elif category == "simple_javascript":
                value = js_source(value, spec.get("type"), spec.get("items", {}).get("type"))
            args[param] = value
        calls.append({name: args})
    return calls
