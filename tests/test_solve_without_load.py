"""`solve` needs nothing that `load` left behind: a fresh instance of the benchmark, never loaded,
solves a sample made by another instance, with only the Sample and the context (its args and
`ctx.root`, the benchmark's data folder). That is what a resumed run in a new process, or
several workers sharing samples, rely on. (swe_bench_verified_mini's solve reads only its Sample:
the git dir and the kit's images are in its metadata.)

The context is a stand-in that records the first request and stops there (what reaches the
model is the point; the episodes themselves are tested in each benchmark's own tests)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from evalpack.benchmarks import registry

FIXTURES = Path(__file__).parent / "fixtures"


class Reached(Exception):
    pass


class FirstRequest:
    """A SolveContext whose first chat call is recorded and ends the solve."""

    def __init__(self, args: dict, root: Path) -> None:
        self.args, self.root, self.generation, self.repeat, self.seed = args, root, {}, 0, args.get("seed")
        self.request: dict | None = None

    async def chat(self, messages, *, tools=None, **params):
        self.request = {"messages": messages, "tools": tools}
        raise Reached

    def other_model(self, *args, **kwargs):
        return User()


class User:
    """The simulated customer's model: it opens the conversation, so the agent speaks next."""

    async def chat(self, messages, *, tools=None, **params):
        from evalpack.types import ChatReply

        return ChatReply(content="Hi, I need help with my order.")


def first_request(name: str, data_dir: Path, user_args: dict) -> tuple[dict, dict]:
    """(the request a fresh instance sends, the one the loading instance sends) for one sample."""
    loaded = registry.get(name)
    args = loaded.resolve_args(user_args)
    args["seed"] = 42 if args.get("seed") is None else args["seed"]
    sample = loaded.load(data_dir, args)[0]
    requests = []
    for bench in (registry.get(name), loaded):  # the fresh one first: nothing of load() in it
        ctx = FirstRequest(args, bench.root(data_dir, args))
        with pytest.raises(Reached):
            asyncio.run(bench.solve(sample, ctx))
        requests.append(ctx.request)
    return requests[0], requests[1]


@pytest.mark.parametrize("name,args", [
    ("tau_bench", {"subset_list": ["retail"]}),
    ("tau2_bench", {"subset_list": ["airline"]}),
    ("longbench_v2", {"prompt_mode": "cot", "tokenizer": "approx"}),
])
def test_a_fresh_instance_solves_what_another_loaded(name, args, datasets_dir, tmp_path):
    if name == "tau2_bench":
        pytest.importorskip("pydantic")
    data_dir, user_args = datasets_dir, dict(args or {})
    if name == "longbench_v2":  # the questions are not in the shared datasets: the test fixture
        data_dir = tmp_path
        shutil.copytree(datasets_dir / "longbench_v2", tmp_path / "longbench_v2")
        shutil.copy(FIXTURES / "longbench_v2" / "data.json", tmp_path / "longbench_v2" / "data.json")
    fresh, loaded = first_request(name, data_dir, user_args)
    assert fresh == loaded and fresh["messages"], name
    if name in ("tau_bench", "tau2_bench"):  # the policy and the tools came from ctx.root's files
        assert fresh["tools"] and fresh["messages"][0]["role"] == "system"
        assert fresh["messages"][-1]["content"] == "Hi, I need help with my order."
