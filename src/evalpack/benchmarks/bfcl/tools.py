"""Native-tools mode: BFCL function docs as OpenAI `tools`, and `tool_calls` read back."""

from __future__ import annotations

import copy
import json

# BFCL's type names -> JSON-schema types (as its OpenAI handler maps them)
JSON_SCHEMA_TYPES = {
    "integer": "integer", "number": "number", "float": "number", "string": "string",
    "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array",
    "dict": "object", "object": "object", "tuple": "array", "any": "string",
    "byte": "integer", "short": "integer", "long": "integer", "double": "number",
    "char": "string", "ArrayList": "array", "Array": "array", "HashMap": "object",
    "Hashtable": "object", "Queue": "array", "Stack": "array", "Any": "string",
    "String": "string", "Bigint": "integer",
}


def _schema_types(properties: dict) -> dict:
    for spec in properties.values():
        kind = spec.get("type")
        if kind == "float":
            spec["format"] = "float"
            spec["description"] = spec.get("description", "") + " This is a float type value."
        spec["type"] = JSON_SCHEMA_TYPES.get(kind, "string")
        if spec["type"] in ("array", "object"):
            if "properties" in spec:
                spec["properties"] = _schema_types(spec["properties"])
            elif "items" in spec:
                items = spec["items"]
                items["type"] = JSON_SCHEMA_TYPES.get(items.get("type"), "string")
                if items["type"] == "array" and "items" in items:
                    items["items"]["type"] = JSON_SCHEMA_TYPES.get(items["items"].get("type"), "string")
                elif items["type"] == "object" and "properties" in items:
                    items["properties"] = _schema_types(items["properties"])
    return properties


def tool_name(name: str, underscore_to_dot: bool) -> str:
    """OpenAI names must match ^[a-zA-Z0-9_-]{1,64}$, so dotted names go out underscored."""
    return name.replace(".", "_") if underscore_to_dot else name


def to_tools(functions: list[dict], underscore_to_dot: bool) -> list[dict]:
    tools = []
    for doc in copy.deepcopy(functions):
        doc["name"] = tool_name(doc["name"], underscore_to_dot)
        params = doc.setdefault("parameters", {"properties": {}})
        params["type"] = "object"
        params["properties"] = _schema_types(params.get("properties", {}))
        tools.append({"type": "function", "function": doc})
    return tools


def decode_tool_calls(tool_calls: list[dict] | None) -> list[dict]:
    """`tool_calls` -> `[{name: {args}}]`. Raises ValueError when arguments are not a JSON object
    (BFCL then counts the reply as undecodable)."""
    if not tool_calls:
        raise ValueError("no tool calls in the reply")
    decoded = []
    for call in tool_calls:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            arguments = json.loads(arguments) if arguments.strip() else {}
        decoded.append({function.get("name"): arguments})
    return decoded
