"""tau2's reward for one finished episode, computed from the stored trajectory alone.

Upstream `evaluate_simulation` with evaluation type ALL:
* an episode that did not end by a stop signal (user_stop, agent_stop) gets 0;
* environment: a fresh environment replays the trajectory's tool calls (the predicted
  state); another applies the task's gold actions (the gold state, no sync between them, as
  upstream); DB = both databases (agent and user) hash-equal; ENV_ASSERTION = every task
  assertion holds on the predicted state;
* ACTION = every gold action matches some tool call of the trajectory (same name; the
  arguments named by `compare_args`, else all the call's own arguments, equal);
* COMMUNICATE = every `communicate_info` string occurs, case-insensitively, in some agent
  text with commas removed;
* the reward is the product of the parts named in the task's `reward_basis`
  (default DB and COMMUNICATE).
NL_ASSERTION needs an LLM judge, so it is left to scoring: a task whose basis names it is
marked `nl_assertions: "not judged"` here; with a judge configured the scorer grades the
assertions and multiplies the reward (benchmark.score, nl_assertions.py), without one the task
is scored on its other parts and the report counts it, never silently passed.
"""

from __future__ import annotations

from typing import Any

from evalpack.benchmarks.tau2_bench.environment import DomainData, Environment, is_mutating
from evalpack.benchmarks.tau2_bench.toolkit import dict_hash

DEFAULT_BASIS = ("DB", "COMMUNICATE")
STOP_TERMINATIONS = ("user_stop", "agent_stop")


def trajectory_calls(trajectory: list[dict]) -> list[dict]:
    """Every tool call of the trajectory, in order, with its requestor."""
    calls = []
    for message in trajectory:
        if message.get("role") in ("assistant", "user") and message.get("tool_calls"):
            for call in message["tool_calls"]:
                calls.append({**call, "requestor": message["role"]})
    return calls


def gold_environment(data: DomainData, task: dict) -> Environment:
    env = Environment.fresh(data)
    env.set_state(task.get("initial_state"))
    for action in task["evaluation_criteria"].get("actions") or []:
        try:
            env.make_tool_call(action["name"], requestor=action.get("requestor") or "assistant",
                               **(action.get("arguments") or {}))
        except Exception:  # noqa: BLE001 - upstream logs a failing gold action and goes on
            pass
    return env


def _task_key(kind: str, task: dict) -> tuple:
    """Cache key: task ids repeat across task files (release vs HEAD), their contents differ."""
    return kind, dict_hash([task.get("initial_state"), task["evaluation_criteria"].get("actions")])


def _gold_hashes(data: DomainData, task: dict) -> tuple:
    key = _task_key("gold", task)
    if key not in data._hashes:
        data._hashes[key] = gold_environment(data, task).db_hashes()
    return data._hashes[key]


def _predicted(data: DomainData, task: dict, calls: list[dict], need_env: bool):
    """(hashes, environment or None) of the state the trajectory leaves. Replaying only
    reads leaves the initial state, whose hashes are kept per task."""
    if not need_env and not any(is_mutating(data.name, c["name"], c["requestor"]) for c in calls):
        key = _task_key("initial", task)
        if key not in data._hashes:
            env = Environment.fresh(data)
            env.set_state(task.get("initial_state"))
            data._hashes[key] = env.db_hashes()
        return data._hashes[key], None
    env = Environment.fresh(data)
    env.set_state(task.get("initial_state"), calls)
    return env.db_hashes(), env


def action_matches(action: dict, call: dict) -> bool:
    if action["name"] != call["name"]:
        return False
    arguments = call.get("arguments") or {}
    keys = action.get("compare_args")
    keys = list(arguments.keys()) if keys is None else keys
    if len(keys) == 0:
        return True
    gold = action.get("arguments") or {}
    return ({k: v for k, v in arguments.items() if k in keys}
            == {k: v for k, v in gold.items() if k in keys})


def communicated(info: str, trajectory: list[dict]) -> bool:
    needle = info.lower()
    for message in trajectory:
        content = message.get("content")
        if message.get("role") != "assistant" or not isinstance(content, str) or not content.strip():
            continue
        if needle in content.lower().replace(",", ""):
            return True
    return False


def evaluate(data: DomainData, task: dict, trajectory: list[dict], termination: str,
             predicted: Environment | None = None) -> dict:
    """{"reward", "reward_basis", "breakdown", checks...}: tau2's RewardInfo, as plain data.
    `predicted` is the episode's own environment when at hand: the state a replay of the
    trajectory would rebuild (the tools are deterministic), without rebuilding it."""
    if termination not in STOP_TERMINATIONS:
        return {"reward": 0.0, "note": f"Simulation terminated prematurely. Termination reason: {termination}"}
    criteria = task.get("evaluation_criteria")
    if criteria is None:
        return {"reward": 1.0, "note": "No evaluation criteria"}
    basis = list(criteria.get("reward_basis") or DEFAULT_BASIS)
    calls = trajectory_calls(trajectory)
    info: dict[str, Any] = {"reward_basis": basis}
    breakdown: dict[str, float] = {}

    # environment: DB state and assertions
    env_reward = 1.0
    actions, assertions = criteria.get("actions"), criteria.get("env_assertions")
    if actions is None and assertions is None:
        info["db_match"] = True
    else:
        if predicted is not None:
            hashes, env = predicted.db_hashes(), predicted
        else:
            hashes, env = _predicted(data, task, calls, need_env=bool(assertions))
        db_match = hashes == _gold_hashes(data, task)
        info["db_match"] = db_match
        met = []
        for assertion in assertions or []:
            try:
                met.append(env.run_env_assertion(assertion))
            except Exception:  # noqa: BLE001 - upstream would crash the evaluation; we fail the check
                met.append(False)
        if assertions:
            info["env_assertions"] = met
        if "DB" in basis:
            breakdown["DB"] = 1.0 if db_match else 0.0
            env_reward *= breakdown["DB"]
        if "ENV_ASSERTION" in basis:
            breakdown["ENV_ASSERTION"] = 1.0 if all(met) else 0.0
            env_reward *= breakdown["ENV_ASSERTION"]

    action_checks = [any(action_matches(a, c) for c in calls) for a in actions or []]
    action_reward = 1.0 if all(action_checks) else 0.0
    if actions:
        info["action_checks"] = action_checks
    infos = criteria.get("communicate_info") or []
    communicate_checks = [communicated(i, trajectory) for i in infos]
    communicate_reward = 1.0 if all(communicate_checks) else 0.0
    if infos:
        info["communicate_checks"] = communicate_checks

    reward = 1.0
    if {"DB", "ENV_ASSERTION"} & set(basis):
        reward *= env_reward
    if "ACTION" in basis:
        breakdown["ACTION"] = action_reward
        reward *= action_reward
    if "NL_ASSERTION" in basis:
        info["nl_assertions"] = "not judged"  # needs the judge: left out of the product, and counted
    if "COMMUNICATE" in basis:
        breakdown["COMMUNICATE"] = communicate_reward
        reward *= communicate_reward
    return {"reward": reward, "breakdown": breakdown, **info}
