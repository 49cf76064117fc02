"""Multi-turn BFCL: executing calls on the simulated backends, and the per-turn checker.

Ground-truth calls are Python call strings (`cd(folder='document')`,
`sort('final_report.pdf')`); they are parsed with `ast` and their arguments read
with `ast.literal_eval`: nothing is ever evaluated. Model calls arrive already
structured (`{name: {args}}`).

Scoring follows BFCL: the model's calls of every turn are re-executed on fresh
backends, the ground truth's on another set; after each turn with a non-empty
ground truth, (1) every backend's public state must equal the ground truth's and
(2) each ground-truth call result must appear among the model's results so far
(unordered, with multiplicity). A turn where the ground truth calls something
but the model called nothing fails; an entry the agent loop had to stop (step
limit) fails.
"""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field

from evalpack.benchmarks.bfcl.backends import BACKENDS
from evalpack.benchmarks.bfcl.backends.noise import load_noise

MAX_STEPS_PER_TURN = 20  # BFCL's MAXIMUM_STEP_LIMIT: more steps than this force-quits the entry


def parse_call(text: str) -> tuple[str, list, dict]:
    """`name(a, b=1)` -> ("name", [a], {"b": 1}); literal arguments only."""
    node = ast.parse(text.strip(), mode="eval").body
    if not isinstance(node, ast.Call):
        raise ValueError(f"not a call: {text!r}")
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name is None:
        raise ValueError(f"cannot read the function name of {text!r}")
    args = [ast.literal_eval(a) for a in node.args]
    kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
    return name, args, kwargs


def result_text(value) -> str:
    """How BFCL hands a result to the model and compares it: strings as-is, dicts as JSON
    when they serialise, anything else through str()."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class Session:
    """The backends of one entry, alive across its turns."""

    def __init__(self, involved_classes: list[str], initial_config: dict, long_context: bool,
                 noise_file: str | None = None) -> None:
        self.instances = {}
        self.methods = {}
        noise = load_noise(noise_file) if long_context else None
        for cls_name in involved_classes:
            backend = BACKENDS[cls_name]()
            backend.load(copy.deepcopy(initial_config.get(cls_name, {})), long_context=long_context, noise=noise)
            self.instances[cls_name] = backend
            for method in backend.tool_names():
                self.methods[method] = getattr(backend, method)

    def call(self, name: str, args: list | tuple = (), kwargs: dict | None = None) -> str:
        method = self.methods.get(name)
        if method is None:
            return f"Error during execution: name '{name}' is not defined"
        try:
            return result_text(method(*args, **(kwargs or {})))
        except Exception as e:  # noqa: BLE001 - the model sees the error text, as in BFCL
            return f"Error during execution: {e}"

    def call_text(self, text: str) -> str:
        try:
            name, args, kwargs = parse_call(text)
        except (SyntaxError, ValueError) as e:
            return f"Error during execution: {e}"
        return self.call(name, args, kwargs)

    def run(self, calls: list[dict]) -> list[str]:
        """Structured model calls `[{name: {args}}]`."""
        out = []
        for call in calls:
            (name, arguments), = call.items()
            if not isinstance(arguments, dict):
                out.append(f"Error during execution: arguments of {name} are not an object")
                continue
            out.append(self.call(name, (), arguments))
        return out

    def states(self) -> dict:
        return {name: backend.state() for name, backend in self.instances.items()}


def is_long_context(entry_id: str) -> bool:
    return "long_context" in entry_id or "composite" in entry_id


@dataclass
class Verdict:
    valid: bool
    error_type: str = ""
    message: str = ""
    details: dict = field(default_factory=dict)


def check_entry(entry: dict, model_turns: list[list[list[dict]]], ground_truth: list[list[str]]) -> Verdict:
    """model_turns[turn][step] = decoded calls of one step (empty and undecodable steps removed)."""
    if len(model_turns) != len(ground_truth):
        return Verdict(False, "multi_turn:force_terminated",
                       f"{len(model_turns)} turns answered, {len(ground_truth)} expected")
    long_context = is_long_context(entry["id"])
    model = Session(entry["involved_classes"], entry.get("initial_config", {}), long_context, entry.get("noise_file"))
    truth = Session(entry["involved_classes"], entry.get("initial_config", {}), long_context, entry.get("noise_file"))
    all_model_results: list[str] = []
    for turn, (steps, expected_calls) in enumerate(zip(model_turns, ground_truth)):
        for calls in steps:
            all_model_results.extend(model.run(calls))
        expected_results = [truth.call_text(c) for c in expected_calls]
        if not expected_calls:
            continue  # nothing required this turn; the model's calls still changed its state
        if not steps:
            return Verdict(False, "multi_turn:empty_turn_model_response",
                           f"Model response list is empty for turn {turn}")
        model_states, truth_states = model.states(), truth.states()
        for cls_name, expected_state in truth_states.items():
            got = model_states[cls_name]
            diff = {k: {"model": _jsonable(got.get(k)), "ground_truth": _jsonable(v)}
                    for k, v in expected_state.items() if got.get(k) != v}
            if diff:
                return Verdict(False, "multi_turn:instance_state_mismatch",
                               f"{cls_name} state differs from the ground truth after turn {turn}",
                               {"differences": diff})
        missing = _missing(expected_results, all_model_results)
        if missing:
            return Verdict(False, "multi_turn:execution_response_mismatch",
                           f"ground-truth results missing from the model's results after turn {turn}",
                           {"missing": missing[:5]})
    return Verdict(True)


def _missing(needed: list[str], have: list[str]) -> list[str]:
    pool = list(have)
    missing = []
    for item in needed:
        try:
            pool.remove(item)
        except ValueError:
            missing.append(item)
    return missing


def _jsonable(value, limit: int = 2000):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def as_keyword_call(text: str) -> dict:
    """A ground-truth call string as a structured call `{name: {param: value}}` (positional
    arguments named from the backend's signature): what a perfect model would send."""
    import inspect

    name, args, kwargs = parse_call(text)
    if args:
        for backend in BACKENDS.values():
            method = getattr(backend, name, None)
            if callable(method) and not name.startswith("_"):
                params = [p for p in inspect.signature(method).parameters if p != "self"]
                kwargs = {**dict(zip(params, args)), **kwargs}
                break
    return {name: kwargs}
