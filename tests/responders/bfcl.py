"""An `evalpack mock --responder` that answers BFCL requests with the ground truth.

It rebuilds, from the real data, the exact request evalpack sends for each entry
and answers with the calls a perfect model would make:
* single-turn: all calls at once, as `tool_calls` (native mode) or as
  `[f(a=1)]` text (prompt mode);
* multi-turn: one ground-truth call per step through the agent loop (a few per step when a
  turn has more calls than BFCL's 20-step limit allows), then a plain-text answer that
  ends the turn.
Environment: BFCL_DATA (the bfcl_v4 directory), BFCL_CATEGORIES (comma list),
BFCL_MODE ("fc" or "prompt"), BFCL_BREAK (optional "<entry id>:<turn>": answer that
turn with one wrong argument, to prove a bad turn fails the entry).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bfcl_replay import perfect_calls  # noqa: E402

from evalpack.benchmarks.bfcl import prompt_mode  # noqa: E402
from evalpack.benchmarks.bfcl.data import MULTI_TURN, RELEVANCE, add_language_hints, load_category  # noqa: E402
from evalpack.benchmarks.bfcl.multi_turn import as_keyword_call  # noqa: E402
from evalpack.benchmarks.bfcl.tools import to_tools  # noqa: E402

DATA = Path(os.environ["BFCL_DATA"])
CATEGORIES = os.environ["BFCL_CATEGORIES"].split(",")
FC = os.environ.get("BFCL_MODE", "fc") == "fc"
BREAK = os.environ.get("BFCL_BREAK", "")
RESULTS_PREFIX = "[{'role': 'tool'"


def _key(*parts) -> str:
    return json.dumps(parts, sort_keys=True)


def _is_user_turn(message: dict) -> bool:
    return message["role"] == "user" and not str(message.get("content", "")).startswith(RESULTS_PREFIX)


SINGLE: dict[str, list[dict] | None] = {}
MULTI: dict[str, tuple[str, int, list[dict]]] = {}
BY_USERS: dict[str, tuple[str, int, list[dict]]] = {}  # prompt mode sends no tools to key on
for category in CATEGORIES:
    for entry in load_category(DATA, category):
        if category in MULTI_TURN:
            names = [f["name"] for f in entry["function"]]
            users: list[str] = []
            for turn, messages in enumerate(entry["question"]):
                added = entry["missed_function"].get(str(turn))
                if added:
                    names += [f["name"] for f in added]
                    users.append("<added functions>")
                else:
                    users += [m["content"] for m in messages if m["role"] == "user"]
                calls = [as_keyword_call(c) for c in entry["ground_truth"][turn]]
                MULTI[_key(category, users, sorted(names))] = (entry["id"], turn, calls)
                BY_USERS[_key(category, users)] = (entry["id"], turn, calls)
            continue
        functions = add_language_hints(entry["function"], category)
        messages = [dict(m) for m in entry["question"][0]]
        if category in RELEVANCE:
            # no answer file: live_relevance wants some call, the irrelevance sets want none
            answer = [{entry["function"][0]["name"]: {}}] if category == "live_relevance" else None
        else:
            answer = perfect_calls(entry, category)
        if FC:
            SINGLE[_key(messages, to_tools(functions, True))] = answer
        else:
            SINGLE[_key(prompt_mode.with_system_prompt(messages, functions))] = answer


def _reply(calls: list[dict]) -> dict:
    if FC:
        return {"tool_calls": [{"name": name.replace(".", "_"), "arguments": args}
                               for call in calls for name, args in call.items()]}
    return {"content": "[" + ", ".join(f"{n}({', '.join(f'{k}={v!r}' for k, v in a.items())})"
                                       for call in calls for n, a in call.items()) + "]"}


def respond(body: dict):
    messages = body["messages"]
    tools = body.get("tools")
    if not any(m["role"] in ("assistant", "tool") for m in messages) and not tools_added(messages):
        key = _key(messages, tools) if FC else _key(messages)
        if key in SINGLE:
            answer = SINGLE[key]
            return _reply(answer) if answer is not None else "None of these functions fits the question."
    return multi_turn_step(messages, tools)


def tools_added(messages) -> bool:
    return any("more functions" in str(m.get("content")) for m in messages if m["role"] == "user")


def multi_turn_step(messages: list[dict], tools) -> dict | str:
    users = []
    for m in messages:
        if _is_user_turn(m):
            users.append("<added functions>" if "more functions" in str(m["content"]) else m["content"])
    if FC:
        names = sorted(t["function"]["name"] for t in tools or [])
    else:
        names = None
    last_user = max(i for i, m in enumerate(messages) if _is_user_turn(m))
    if FC:
        done = sum(len(m["tool_calls"]) for m in messages[last_user:] if m["role"] == "assistant" and m.get("tool_calls"))
    else:
        done = sum(str(m.get("content")).count("), ") + 1 for m in messages[last_user:]
                   if m["role"] == "assistant" and str(m.get("content")).startswith("["))
    for category in CATEGORIES:
        if names is None:
            found = BY_USERS.get(_key(category, users))
        else:
            found = MULTI.get(_key(category, users, names))
        if found:
            entry_id, turn, calls = found
            if done < len(calls):
                per_step = -(-len(calls) // 20)  # stay within the step limit
                batch = json.loads(json.dumps(calls[done:done + per_step]))
                if BREAK == f"{entry_id}:{turn}":
                    (name, args), = batch[0].items()
                    key = next(iter(args), None)
                    if key is not None:
                        args[key] = f"{args[key]}_wrong" if isinstance(args[key], str) else 987654
                return _reply(batch)
            return "Done."
    return "I cannot help with that."
