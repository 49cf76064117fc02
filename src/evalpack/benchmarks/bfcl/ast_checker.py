"""Single-turn BFCL scoring: compare decoded calls with the possible answers.

A decoded call is `{function_name: {param: value}}`. A possible answer maps each
parameter to the list of acceptable values, where `""` marks the parameter as
optional. The rules follow BFCL's AST checker:

* the function name must match (dots become underscores when the server was
  sent underscored names, `underscore_to_dot`);
* every required parameter is present, no parameter outside the doc or the answer;
* the value has the documented type (an int is accepted for a Python float;
  Java/JavaScript values arrive as source text and are converted first; when
  the answer's own type differs from the documented one the value is taken as
  a variable name);
* the value is among the acceptable ones: strings compare case-insensitively
  ignoring spaces and `,./-_*^`, lists and dicts element-wise, lists of dicts
  in order;
* parallel categories match the calls to the answers in any order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from evalpack.benchmarks.bfcl.lang_types import (
    COLLECTION_TYPES, JAVA_TYPES, JS_TYPES, java_value, js_value)

PYTHON_TYPES: dict[str, type] = {
    "string": str, "integer": int, "float": float, "boolean": bool,
    "array": list, "tuple": list, "dict": dict, "any": str,
}
PYTHON_NESTED = ("array", "tuple")


@dataclass
class Check:
    valid: bool
    error_type: str = ""
    errors: list = field(default_factory=list)
    is_variable: bool = False


OK = Check(True)


def language_of(category: str) -> str:
    if category == "simple_java":
        return "java"
    if category == "simple_javascript":
        return "javascript"
    return "python"


def check_calls(functions: list[dict], calls: list[dict], answers: list[dict], category: str,
                underscore_to_dot: bool = False) -> Check:
    """Score one single-turn entry. `calls` must already be in `[{name: {args}}]` form."""
    language = language_of(category)
    if "parallel" in category:
        return _parallel_no_order(functions, calls, answers, language, underscore_to_dot)
    if "multiple" in category:
        if len(calls) != len(answers):
            return Check(False, "wrong_count", ["Wrong number of functions."])
        expected = next(iter(answers[0]))
        return check_one(_find_doc(functions, expected), calls[0], answers[0], language,
                         underscore_to_dot)
    if len(calls) != 1:
        return Check(False, "wrong_count", ["Wrong number of functions."])
    return check_one(functions[0], calls[0], answers[0], language, underscore_to_dot)


def is_call_list(decoded) -> bool:
    """`[{name: {args}}, ...]`; an empty list qualifies too."""
    return isinstance(decoded, list) and all(
        isinstance(c, dict) and len(c) == 1 and isinstance(next(iter(c.values())), dict)
        for c in decoded)


def has_no_call(decoded) -> bool:
    """BFCL's notion of "no function call" for (ir)relevance scoring."""
    if not is_call_list(decoded):
        return True
    return len(decoded) == 0 or (len(decoded) == 1 and len(decoded[0]) == 0)


def _find_doc(functions: list[dict], name: str) -> dict | None:
    return next((f for f in functions if f["name"] == name), None)


def _parallel_no_order(functions, calls, answers, language, underscore_to_dot) -> Check:
    if len(calls) != len(answers):
        return Check(False, "wrong_count", ["Wrong number of functions."])
    used: set[int] = set()
    for i, answer in enumerate(answers):
        doc = _find_doc(functions, next(iter(answer)))
        errors = []
        for j, call in enumerate(calls):
            if j in used:
                continue
            result = check_one(doc, call, answer, language, underscore_to_dot)
            if result.valid:
                used.add(j)
                break
            errors.append({"call_index": j, "error_type": result.error_type, "errors": result.errors})
        else:
            return Check(False, "parallel:cannot_find_match",
                         [f"No call matches answer {i}.", *errors])
    return OK


def check_one(doc: dict | None, call: dict, answer: dict, language: str,
              underscore_to_dot: bool = False) -> Check:
    if doc is None:
        return Check(False, "wrong_func_name", ["Function not documented."])
    accepted = next(iter(answer.values()))
    properties = doc["parameters"]["properties"]
    name = doc["name"]
    if underscore_to_dot and "." in name:
        name = re.sub(r"\.", "_", name)
    if name not in call:
        return Check(False, "wrong_func_name", [f"Function name {name!r} not found in model output."])
    args = call[name]
    for param in doc["parameters"].get("required", []):
        if param not in args:
            return Check(False, "missing_required", [f"Missing required parameter: {param!r}."])
    for param, value in args.items():
        if param not in properties or param not in accepted:
            return Check(False, "unexpected_param", [f"Unexpected parameter: {param!r}."])
        result = _check_param(param, value, properties[param], accepted[param], language)
        if not result.valid:
            return result
    for param, values in accepted.items():
        if param not in args and "" not in values:
            return Check(False, "missing_optional",
                         [f"Optional parameter {param!r} not provided and not marked as optional."])
    return OK


def _check_param(param: str, value, spec: dict, accepted: list, language: str) -> Check:
    type_name = spec.get("type")
    item_type = None
    if language == "python":
        expected = PYTHON_TYPES.get(type_name)
        if type_name in PYTHON_NESTED:
            item_type = PYTHON_TYPES.get(spec.get("items", {}).get("type"))
    else:
        table, convert = (JAVA_TYPES, java_value) if language == "java" else (JS_TYPES, js_value)
        expected = table.get(type_name)
        if expected is None:
            return Check(False, "type_error:unsupported", [f"Unsupported type {type_name!r}."])
        if type(value) is not str:
            return Check(False, f"type_error:{language}",
                         [f"Incorrect type for parameter {param!r}. Expected type String, "
                          f"got {type(value).__name__}. Parameter value: {value!r}."])
        if type_name in COLLECTION_TYPES:
            raw_item = spec.get("items", {}).get("type")
            item_type = table.get(raw_item)
            value = convert(value, type_name, raw_item)
        else:
            value = convert(value, type_name)
    if expected is None:
        return Check(False, "type_error:unsupported", [f"Unsupported type {type_name!r}."])
    if type_name == "tuple" and type(value) is tuple:
        value = list(value)
    if language == "python" and type_name == "float" and type(value) is int:
        value = float(value)

    typed = _type_check(param, value, accepted, type_name, expected, item_type)
    if not typed.valid:
        return typed
    if not typed.is_variable:
        if expected is dict:
            return _dict_check(param, value, accepted)
        if expected is list and item_type is dict:
            return _list_of_dicts_check(param, value, accepted)
        if expected is str:
            return _string_check(param, value, accepted)
        if expected is list:
            return _list_check(param, value, accepted)
    if value not in accepted:
        return Check(False, "value_error:others",
                     [f"Invalid value for parameter {param!r}: {value!r}. Expected one of {accepted}."])
    return OK


def _answer_type(accepted: list):
    return next((type(a) for a in accepted if a != ""), None)


def _type_check(param, value, accepted, type_name, expected, item_type) -> Check:
    """Value type against the doc; a value of the answer's own type counts as a variable."""
    answer_type = _answer_type(accepted)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if item_type is None:
            return Check(True, is_variable=is_variable)
        for option in accepted:
            # BFCL checks the items against each acceptable list; a non-list option passes.
            if not isinstance(option, list) or all(
                    _type_check(param, item, option, str(item_type), item_type, None).valid
                    for item in value):
                return Check(True, is_variable=is_variable)
        nested_error = Check(False, "type_error:nested",
                             [f"Nested type checking failed for parameter {param!r}. Expected "
                              f"{type_name} of {item_type.__name__}. Parameter value: {value!r}."])
        if answer_type is not None and type(value) is answer_type:
            nested_error.is_variable = True
        return nested_error
    if answer_type is not None and type(value) is answer_type:
        return Check(True, is_variable=True)
    return Check(False, "type_error:simple",
                 [f"Incorrect type for parameter {param!r}. Expected type {type_name}, "
                  f"got {type(value).__name__}. Parameter value: {value!r}."])


_PUNCT = re.compile(r"[ \,\.\/\-\_\*\^]")


def standardize(text: str) -> str:
    """Lower-case, no spaces or `,./-_*^`, single quotes as double (BFCL's string tolerance)."""
    return _PUNCT.sub("", text).lower().replace("'", '"')


def _std(value):
    return standardize(value) if type(value) is str else value


def _string_check(param, value: str, accepted: list) -> Check:
    if standardize(value) not in [standardize(a) for a in accepted if type(a) is str]:
        return Check(False, "value_error:string",
                     [f"Invalid value for parameter {param!r}: {value!r}. Expected one of {accepted}. "
                      "Case insensitive."])
    return OK


def _list_check(param, value: list, accepted: list) -> Check:
    mine = [_std(v) for v in value]
    # BFCL standardises each option element-wise, so the optional marker "" becomes [].
    options = [[_std(v) for v in option] for option in accepted if isinstance(option, (list, str))]
    if mine not in options:
        return Check(False, "value_error:list/tuple",
                     [f"Invalid value for parameter {param!r}: {value!r}. Expected one of {accepted}."])
    return OK


def _dict_check(param, value: dict, accepted: list) -> Check:
    last = Check(False, "dict_checker:unclear", [])
    for option in accepted:
        if option == "":
            continue
        last = _dict_against(value, option)
        if last.valid:
            return OK
    return last


def _dict_against(value: dict, option: dict) -> Check:
    for key, item in value.items():
        if key not in option:
            return Check(False, "value_error:dict_key", [f"Unexpected dict key parameter: {key!r}."])
        allowed = [_std(a) for a in option[key]]
        if _std(item) not in allowed:
            return Check(False, "value_error:dict_value",
                         [f"Invalid value for parameter {key!r}: {item!r}. Expected one of {allowed}."])
    for key, allowed in option.items():
        if key not in value and "" not in allowed:
            return Check(False, "value_error:dict_key", [f"Missing dict key parameter: {key!r}."])
    return OK


def _list_of_dicts_check(param, value: list, accepted: list) -> Check:
    last = Check(False, "list_dict_checker:unclear", [])
    for option in accepted:
        if not isinstance(option, list) or len(value) != len(option):
            last = Check(False, "value_error:list_dict_count", ["Wrong number of dictionaries in the list."])
            continue
        for item, expected in zip(value, option):
            last = _dict_check(param, item, [expected]) if isinstance(item, dict) else Check(
                False, "value_error:list_dict", [f"Not a dict: {item!r}"])
            if not last.valid:
                break
        else:
            return OK
    return last
