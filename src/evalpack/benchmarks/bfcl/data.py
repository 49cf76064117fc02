"""Reading BFCL v4 files (the `bfcl-eval` data directory, JSON Lines)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from evalpack.errors import UsageError
from evalpack.jsonl import read_jsonl

NON_LIVE = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel",
            "parallel_multiple", "irrelevance")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
        "live_irrelevance", "live_relevance")
MULTI_TURN = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
              "multi_turn_long_context")
SUPPORTED = NON_LIVE + LIVE + MULTI_TURN
# Upstream categories evalpack does not run yet (memory: three memory backends; web
# search needs the internet). Requesting them gives a clear UsageError.
UNSUPPORTED = ("memory", "memory_kv", "memory_vector", "memory_rec_sum",
               "web_search", "web_search_base", "web_search_no_snippet", "format_sensitivity")
RELEVANCE = ("irrelevance", "live_irrelevance", "live_relevance")

# class name -> file in multi_turn_func_doc/
FUNC_DOC_FILES = {
    "GorillaFileSystem": "gorilla_file_system.json",
    "MathAPI": "math_api.json",
    "MessageAPI": "message_api.json",
    "TwitterAPI": "posting_api.json",
    "TicketAPI": "ticket_api.json",
    "TradingBot": "trading_bot.json",
    "TravelAPI": "travel_booking.json",
    "VehicleControlAPI": "vehicle_control.json",
}
FILE_PREFIX = "BFCL_v4_"


def load_category(root: Path, category: str) -> list[dict]:
    """Entries of one category, with `ground_truth` attached when the category has answers.

    Answers are aligned with questions by position (as upstream does); ids are checked too.
    """
    path = root / f"{FILE_PREFIX}{category}.json"
    if not path.is_file():
        raise UsageError(f"BFCL file {path} not found; point --dataset-dir at the directory "
                         "holding bfcl_v4/ (the bfcl-eval package's data directory).")
    entries = read_jsonl(path)
    if category in RELEVANCE:
        return entries
    answers = read_jsonl(root / "possible_answer" / path.name)
    if len(answers) != len(entries):
        raise UsageError(f"{path.name}: {len(entries)} questions but {len(answers)} answers; "
                         "the data directory is incomplete or mixed from two versions.")
    for entry, answer in zip(entries, answers):
        entry["ground_truth"] = answer["ground_truth"]
    if category in MULTI_TURN:
        docs = {cls: read_jsonl(root / "multi_turn_func_doc" / name)
                for cls, name in FUNC_DOC_FILES.items()}
        for entry in entries:
            _attach_multi_turn_functions(entry, docs)
    return entries


def _attach_multi_turn_functions(entry: dict, docs: dict[str, list[dict]]) -> None:
    """The docs of the involved classes; miss_func entries hold some back until a later turn."""
    functions = [copy.deepcopy(f) for cls in entry["involved_classes"] for f in docs[cls]]
    missed: dict[str, list[dict]] = {}
    for turn, names in (entry.get("missed_function") or {}).items():
        missed[turn] = []
        for name in names:
            for i, doc in enumerate(functions):
                if doc["name"] == name:
                    missed[turn].append(functions.pop(i))
                    break
    entry["function"] = functions
    entry["missed_function"] = missed


# BFCL appends a language hint to single-turn docs and, for Java/JavaScript, declares every
# parameter a string holding source text. Same facts, our wording.
def add_language_hints(functions: list[dict], category: str) -> list[dict]:
    functions = copy.deepcopy(functions)
    language = {"simple_java": "Java 8 SDK", "simple_javascript": "JavaScript"}.get(category, "Python 3")
    for doc in functions:
        doc["description"] = doc.get("description", "") + f" (This function uses {language} syntax.)"
        if category not in ("simple_java", "simple_javascript"):
            continue
        lang = "Java" if category == "simple_java" else "JavaScript"
        for spec in doc["parameters"]["properties"].values():
            spec.setdefault("description", "")
            if spec["type"] == "any":
                spec["description"] += f" Any {lang} object, written as {lang} source text in a string."
            else:
                spec["description"] += f" A {lang} {spec['type']} value, written as {lang} source text in a string."
            if spec["type"] in ("ArrayList", "Array", "array") and "items" in spec:
                spec["description"] += (f" Its elements are {spec['items']['type']} values "
                                        "(not strings themselves).")
                del spec["items"]
            if lang == "JavaScript" and spec["type"] == "dict" and "properties" in spec:
                spec["description"] += (" Its entries follow this schema (values are not strings "
                                        f"themselves): {json.dumps(spec['properties'])}")
                del spec["properties"]
            spec["type"] = "string"
    return functions
