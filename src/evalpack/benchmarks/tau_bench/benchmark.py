"""tau-bench (airline, retail): the evaluated model is a customer-service agent that
follows a policy, calls tools on a database and talks to an LLM-simulated customer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.benchmarks.tau_bench.env import (TABLES, Database, Environment,
                                                ground_truth_hash, reward)
from evalpack.benchmarks.tau_bench.episode import run_episode
from evalpack.benchmarks.tau_bench.user_sim import SimulatedUser
from evalpack.errors import DataMissingError
from evalpack.metrics import accuracy_report, pass_hat_k

DEFAULT_MAX_STEPS = 30


class TauBench(Benchmark):
    name = "tau_bench"  # metadata and args (extra_params: the simulated user): registry.py

    def __init__(self) -> None:
        super().__init__()
        # caches of pure functions (of a sample, of a domain's folder): solve reads its data from
        # ctx.root, so it needs nothing `load` did
        self._gold_hashes: dict[str, str] = {}
        self._agent_setup: dict[Path, tuple[str, list[dict]]] = {}  # domain dir -> (policy, tool schemas)

    # --- data -----------------------------------------------------------------------------
    def _domain_dir(self, data_dir: Path, args: dict, domain: str) -> Path:
        domain_dir = self.root(data_dir, args) / domain
        missing = [name for name in ("tasks_test.json", "wiki.md", "tools.json",
                                     *(f"{t}.json" for t in TABLES[domain]))
                   if not (domain_dir / name).is_file()]
        if missing:
            raise DataMissingError(
                f"tau_bench: {domain_dir} lacks {', '.join(missing)}; put the tau-bench {domain} files "
                f"there (see `evalpack list` / the datasets' SOURCES.md) or pass --dataset-dir.")
        return domain_dir

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        samples = []
        for domain in self.selected_subsets(args):
            domain_dir = self._domain_dir(data_dir, args, domain)
            tasks = json.loads((domain_dir / "tasks_test.json").read_text(encoding="utf-8"))
            for index, task in enumerate(tasks):
                samples.append(Sample(
                    id=f"{domain}_{index}", subset=domain,
                    target={"actions": task["actions"], "outputs": task.get("outputs", [])},
                    metadata={"task_index": index, "user_id": task.get("user_id"),
                              "instruction": task["instruction"]}))
        return samples

    def _policy_and_tools(self, domain_dir: Path) -> tuple[str, list[dict]]:
        if domain_dir not in self._agent_setup:
            self._agent_setup[domain_dir] = (
                (domain_dir / "wiki.md").read_text(encoding="utf-8"),
                json.loads((domain_dir / "tools.json").read_text(encoding="utf-8")))
        return self._agent_setup[domain_dir]

    async def _gold_hash(self, sample: Sample, database: Database) -> str:
        if sample.id not in self._gold_hashes:
            self._gold_hashes[sample.id] = await asyncio.to_thread(
                ground_truth_hash, database, sample.target["actions"])
        return self._gold_hashes[sample.id]

    # --- model ----------------------------------------------------------------------------
    async def solve(self, sample: Sample, ctx) -> dict:
        domain = sample.subset
        domain_dir = Path(ctx.root) / domain
        extra = ctx.args.get("extra_params") or {}
        database = await asyncio.to_thread(Database.load, domain, domain_dir)
        policy, tools = self._policy_and_tools(domain_dir)
        user_ctx = ctx.other_model(extra.get("user_model"), extra.get("api_base"), extra.get("api_key"))
        user = SimulatedUser(user_ctx, sample.metadata["instruction"], extra.get("generation_config"))
        env = await asyncio.to_thread(Environment, database)
        episode = await run_episode(env=env, agent=ctx, user=user, policy=policy, tools=tools,
                                    max_steps=int(extra.get("max_steps") or DEFAULT_MAX_STEPS))
        return {
            "domain": domain,
            "messages": episode.messages,
            "actions": episode.actions,
            "end_reason": episode.end_reason,
            "steps": episode.steps,
            "final_hash": episode.final_hash,
            "gold_hash": await self._gold_hash(sample, database),
            # the row's usage counts the agent's calls; the simulated user's are kept here
            "user_usage": dict(getattr(user_ctx, "usage", None) or {}),
        }

    # --- scoring --------------------------------------------------------------------------
    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        replies = [a["kwargs"].get("content") or "" for a in output.get("actions", [])
                   if a.get("name") == "respond" and isinstance(a.get("kwargs"), dict)]
        value, detail = reward(final_hash=output.get("final_hash", ""),
                               gold_hash=output.get("gold_hash", ""),
                               expected_outputs=sample.target.get("outputs", []),
                               agent_replies=replies)
        finished = output.get("end_reason") in ("user_stop", "transfer")
        if not finished:
            value = 0.0  # upstream only rewards an episode that ended (stop token or transfer)
        detail.update({"end_reason": output.get("end_reason"), "steps": output.get("steps"),
                       "tool_calls": sum(1 for a in output.get("actions", []) if a.get("name") != "respond")})
        return Score(value=value, extracted=output.get("end_reason"), detail=detail)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        return pass_hat_k_report(results, repeats=int(args.get("repeats") or 1))


def pass_hat_k_report(results: list[Result], repeats: int = 1) -> dict:
    """Average reward per domain and overall (the report's score), plus pass^k for
    k = 1..repeats: the mean over tasks of C(c, k) / C(n, k), c successes in n trials
    (upstream `display_metrics`). The runner leaves errored episodes out, so a task's
    errored trial counts as a failed one (upstream records reward 0 for it)."""
    report = accuracy_report(results, metric="average_reward")
    trials = max([repeats] + [r.repeat + 1 for r in results])

    def pass_hats(rows: list[Result]) -> dict[str, float]:
        successes: dict[str, int] = {}
        for r in rows:
            ok = r.score is not None and abs(r.score - 1.0) <= 1e-6
            successes[r.sample_id] = successes.get(r.sample_id, 0) + int(ok)
        if not successes:
            return {}
        return {f"pass^{k}": sum(pass_hat_k(trials, c, k) for c in successes.values()) / len(successes)
                for k in range(1, trials + 1)}

    by_domain: dict[str, list[Result]] = {}
    for r in results:
        by_domain.setdefault(r.subset, []).append(r)
    for row in report["subsets"]:
        row.update(pass_hats(by_domain.get(row["name"], [])))
        row["tasks"] = len({r.sample_id for r in by_domain.get(row["name"], [])})
    report["metrics"].update(pass_hats(results))
    for domain, rows in sorted(by_domain.items()):
        for key, value in pass_hats(rows).items():
            report["metrics"][f"{key} {domain}"] = value
    report["trials"] = trials
    return report
