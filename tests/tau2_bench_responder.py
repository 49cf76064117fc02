"""`evalpack mock --responder` script playing both sides of a tau2-bench episode.

The agent's requests carry its system prompt (`<instructions>` ...), the simulated user's
the simulation guidelines. The user introduces itself with the task ("this is task
<domain> <id>"), found from the scenario in its system prompt: airline and retail scenarios
are unique; telecom tasks share scenarios (they differ in the phone's initial faults), and a
shared scenario names the first task that has it (so run telecom with --limit 1, or on
tasks whose scenario is their own).

The agent, per $TAU2_AGENT_MODE:
* "replay": works through the task's gold actions: its own as tool calls, one per turn; the
  user's by asking "PLEASE RUN <name> <json arguments>", which the user does with its tool
  and answers "Done."; then says DONE and every communicate_info string;
* "idle": says DONE at once, and nothing else.
The user writes ###STOP### once the agent says DONE. Reads $TAU2_BENCH_DIR
(<dataset-dir>/tau2_bench), $TAU2_TASK_SET (release|head) and $TAU2_TASK_SPLIT (base...).
"""

import json
import os
from pathlib import Path

STOP = "###STOP###"
DONE = "That is all done for you."
ASK = "PLEASE RUN "
_TASKS: dict = {}  # "<domain> <id>" -> task
_BY_SCENARIO: dict = {}  # a scenario's text fragments -> [task key, ...] in file order


def _load() -> None:
    if _TASKS:
        return
    root = Path(os.environ["TAU2_BENCH_DIR"])
    task_file = {"release": "tasks_release_2025-06-10.json", "head": "tasks.json"}[os.environ.get("TAU2_TASK_SET", "release")]
    for domain in ("airline", "retail", "telecom"):
        name = "tasks.json" if domain == "telecom" else task_file
        split = set(json.loads((root / domain / "split_tasks.json").read_text())[os.environ.get("TAU2_TASK_SPLIT", "base")])
        for task in json.loads((root / domain / name).read_text()):
            if task["id"] not in split:
                continue
            key = f"{domain} {task['id']}"
            _TASKS[key] = task
            _BY_SCENARIO.setdefault(_fingerprint(task["user_scenario"]), []).append(key)


def _fingerprint(scenario: dict) -> tuple:
    instructions = scenario["instructions"]
    if isinstance(instructions, str):
        return (instructions.splitlines()[0],)
    fields = [scenario.get("persona")] + [instructions.get(k) for k in
                                          ("reason_for_call", "known_info", "unknown_info", "task_instructions")]
    return tuple(line.strip() for text in fields if text for line in text.splitlines() if line.strip())


def _task_of(system_prompt: str) -> str:
    lines = {line.strip() for line in system_prompt.splitlines() if line.strip()}
    matches = [fp for fp in _BY_SCENARIO if all(part in lines for part in fp)]
    best = max(matches, key=len)  # the most specific scenario that fits
    return _BY_SCENARIO[best][0]


def respond(body: dict):
    _load()
    messages = body["messages"]
    if messages[0]["content"].startswith("<instructions>"):
        return _agent(messages)
    return _user(messages)


def _user(messages):
    if len(messages) == 2:  # answering the agent's greeting: introduce the task
        return f"Hello, this is task {_task_of(messages[0]['content'])}."
    last = messages[-1]
    if last["role"] == "tool":
        return "Done."
    text = last.get("content") or ""
    if text.startswith(ASK):
        name, arguments = text[len(ASK):].split(" ", 1)
        return {"content": None, "tool_calls": [{"name": name, "arguments": json.loads(arguments)}]}
    return STOP if DONE in text else "ok"


def _agent(messages):
    key = messages[2]["content"].removeprefix("Hello, this is task ").rstrip(".")
    task = _TASKS[key]
    criteria = task["evaluation_criteria"]
    replay = os.environ.get("TAU2_AGENT_MODE", "replay") == "replay"
    actions = (criteria.get("actions") or []) if replay else []
    done = (sum(1 for m in messages if m["role"] == "tool")
            + sum(1 for m in messages if m["role"] == "user" and m.get("content") == "Done."))
    if done < len(actions):
        action = actions[done]
        if (action.get("requestor") or "assistant") == "user":
            return f"{ASK}{action['name']} {json.dumps(action.get('arguments') or {})}"
        return {"content": None, "tool_calls": [{"name": action["name"], "arguments": action.get("arguments") or {}}]}
    return " ".join([DONE] + ((criteria.get("communicate_info") or []) if replay else []))
