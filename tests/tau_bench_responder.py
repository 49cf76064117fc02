"""`evalpack mock --responder` script playing both sides of a tau-bench episode.

Requests that carry `tools` come from the agent, the others from the simulated user.
The user introduces itself with the task's id (found from the instruction in its system
prompt) and writes ###STOP### once the agent says DONE. The agent, per
$TAU_AGENT_MODE: "replay" calls the task's gold actions one per turn and then says DONE
with the expected outputs; "idle" says DONE at once.
Reads the tasks from $TAU_BENCH_DIR (<dataset-dir>/tau_bench).
"""

import json
import os
from pathlib import Path

STOP = "###STOP###"
DONE = "That is all done for you."
_TASKS: dict = {}


def _tasks() -> dict:
    if not _TASKS:
        root = Path(os.environ["TAU_BENCH_DIR"])
        for domain in ("airline", "retail"):
            for i, task in enumerate(json.loads((root / domain / "tasks_test.json").read_text())):
                _TASKS[task["instruction"]] = _TASKS[f"{domain}_{i}"] = task | {"id": f"{domain}_{i}"}
    return _TASKS


def respond(body: dict):
    messages = body["messages"]
    if body.get("tools"):
        return _agent(messages)
    return _user(messages)


def _user(messages):
    if len(messages) == 2:  # the opening line: introduce the task
        system = messages[0]["content"]
        instruction = system.split("\n\nInstruction: ", 1)[1].rsplit("\n\nRules:", 1)[0]
        return f"Hello, this is task {_tasks()[instruction]['id']}."
    return STOP if DONE in (messages[-1]["content"] or "") else "ok"


def _agent(messages):
    task = _tasks()[messages[1]["content"].rsplit(" ", 1)[1].rstrip(".")]
    done = sum(1 for m in messages if m["role"] == "tool")
    actions = task["actions"] if os.environ.get("TAU_AGENT_MODE", "replay") == "replay" else []
    if done < len(actions):
        action = actions[done]
        return {"content": None, "tool_calls": [{"name": action["name"], "arguments": action["kwargs"]}]}
    return {"content": f"{DONE} " + " ".join(task["outputs"])}
