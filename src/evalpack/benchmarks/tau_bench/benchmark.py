"""tau-bench (airline, retail): the evaluated model is a customer-service agent that
follows a policy, calls tools on a database and talks to an LLM-simulated customer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, DataFile, Result, Sample, Score
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
        self._domain_dirs: dict[str, Path] = {}
        self._gold_hashes: dict[str, str] = {}
        self._agent_setup: dict[str, tuple[str, list[dict]]] = {}  # domain -> (policy, tool schemas)

    # --- data -----------------------------------------------------------------------------
    def data_files(self) -> list[DataFile]:
        return [DataFile(path, sha, size, url) for path, sha, size, url in _DATA_FILES]

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
            self._domain_dirs[domain] = domain_dir
            tasks = json.loads((domain_dir / "tasks_test.json").read_text(encoding="utf-8"))
            for index, task in enumerate(tasks):
                samples.append(Sample(
                    id=f"{domain}_{index}", subset=domain,
                    target={"actions": task["actions"], "outputs": task.get("outputs", [])},
                    metadata={"task_index": index, "user_id": task.get("user_id"),
                              "instruction": task["instruction"]}))
        return samples

    def _policy_and_tools(self, domain: str) -> tuple[str, list[dict]]:
        if domain not in self._agent_setup:
            domain_dir = self._domain_dirs[domain]
            self._agent_setup[domain] = (
                (domain_dir / "wiki.md").read_text(encoding="utf-8"),
                json.loads((domain_dir / "tools.json").read_text(encoding="utf-8")))
        return self._agent_setup[domain]

    async def _gold_hash(self, sample: Sample, database: Database) -> str:
        if sample.id not in self._gold_hashes:
            self._gold_hashes[sample.id] = await asyncio.to_thread(
                ground_truth_hash, database, sample.target["actions"])
        return self._gold_hashes[sample.id]

    # --- model ----------------------------------------------------------------------------
    async def solve(self, sample: Sample, ctx) -> dict:
        domain = sample.subset
        if domain not in self._domain_dirs:
            raise DataMissingError("tau_bench: solve() called before load(); load the data first.")
        extra = ctx.args.get("extra_params") or {}
        database = await asyncio.to_thread(Database.load, domain, self._domain_dirs[domain])
        policy, tools = self._policy_and_tools(domain)
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


# (path relative to <dataset-dir>/tau_bench, sha256, bytes, url): the upstream files at
# sierra-research/tau-bench 59a200c; tasks_test.json and tools.json are derived from the
# Python sources (see the datasets' SOURCES.md), so they have no download url
_DATA_FILES = [
    ("airline/flights.json", "444d7565c68434a3e3fb72efd717f9f9cd5c56dce227f6f56e078f1cb0ed233a", 2114218,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/airline/data/flights.json"),
    ("airline/reservations.json", "1cf0bbc58ad984be9de7c24dba6dd27393f94cdbd482d8524f6a54db1f561a8c", 2325594,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/airline/data/reservations.json"),
    ("airline/users.json", "bd264e2a31e0fa35cdfef8987e70a0dd3776828b582fe90e7a44823a12eb4cea", 595947,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/airline/data/users.json"),
    ("airline/wiki.md", "56c335801c16e26b54f600f9db99eb04d31db477e86eb160341d5c66b796c5c8", 6155,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/airline/wiki.md"),
    ("airline/tools.json", "d8e0a4bd8d7dbd81092609d0689ce3872d5967f11315428ba99534e047e7ad3b", 14102, ""),
    ("airline/tasks_test.json", "d09da582519223d7ead50904f22c44fe53c3804115f0c2338dbb308abd8684bd", 67563, ""),
    ("retail/orders.json", "2598a12586d28f2d6bd16bc86f4c800029b6af18e0abb5c475ef5c869c11ced1", 1810945,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/retail/data/orders.json"),
    ("retail/products.json", "a9eabcc1a9742c5f5288c2779acce52b9308423383ed24706bbaf0889f762a0f", 172258,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/retail/data/products.json"),
    ("retail/users.json", "6f4fd104cc5e80b92166c4035315c31532c6cea52a90dcdf18425ee7f87c2b82", 322932,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/retail/data/users.json"),
    ("retail/wiki.md", "d539fd2a46a8b8dd2e934ff9ed92f43e9f6b56bc7a718db8d2803ba8ad8f6bf7", 5718,
     "https://raw.githubusercontent.com/sierra-research/tau-bench/59a200c6d575d595120f1cb70fea53cef0632f6b/tau_bench/envs/retail/wiki.md"),
    ("retail/tools.json", "e1c75931580afd0f051573447d55199675a51a78ff8f1e1d9c517c471d0a8bcf", 15088, ""),
    ("retail/tasks_test.json", "f205afc366c162396f5b61e4141342698cd05a8fa23ef948f5668b49d5778f71", 168588, ""),
]
