"""What a benchmark is: metadata + load + solve + score + aggregate.

A benchmark is declared in `evalpack.benchmarks.registry` (its metadata and
dataset-args, as data) and implemented by a subclass of `Benchmark` named there;
the class takes its metadata from that entry. The runner drives every benchmark
the same way:

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
import logging
from pathlib import Path
from typing import Any, ClassVar, Iterable

from evalpack.benchmarks import registry
from evalpack.benchmarks.declaration import Arg, BenchmarkInfo, resolve_args
# The records live at the bottom (evalpack.types); importing them from here keeps working.
from evalpack.types import ChatReply, DataFile, Result, Sample, Score, SolveContext  # noqa: F401

log = logging.getLogger("evalpack")


class Benchmark:
    # --- metadata: copied from the benchmark's entry in registry.py (see __init_subclass__) ---
    name: ClassVar[str]  # command-line name, EvalScope's (e.g. "mmlu")
    info: ClassVar[BenchmarkInfo | None] = None
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    metric: ClassVar[str] = "accuracy"
    split: ClassVar[str] = "test"
    subsets: ClassVar[tuple[str, ...]] = ()
    # defaults of --dataset-args '{"<name>": {...}}'; any other key is rejected
    default_args: ClassVar[dict] = {"subset_list": None}
    # where the files live: <dataset-dir>/<data_dirname>/...
    data_dirname: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("info")  # a plugin's "module:Class" form: the class carries its entry
        if isinstance(own, BenchmarkInfo):
            cls.name = own.name
        entry = own if isinstance(own, BenchmarkInfo) else registry.declared(cls.__dict__.get("name", ""))
        # only the class the entry names takes its metadata (its subclasses inherit it); another
        # class that borrows a registered name (a test's stand-in) keeps its own
        if isinstance(entry, BenchmarkInfo) and (entry is own or entry.entry == f"{cls.__module__}:{cls.__qualname__}"):
            declared = {"title": entry.title, "description": entry.description, "metric": entry.metric,
                        "split": entry.split, "subsets": entry.subsets, "data_dirname": entry.dirname,
                        "default_args": resolve_args(entry, {})}
            _check_class_agrees(cls, declared)
            cls.info = entry
            for key, value in declared.items():
                setattr(cls, key, value)

    def __init__(self) -> None:
        if not self.data_dirname:
            self.data_dirname = self.name

    @classmethod
    def declared_info(cls) -> BenchmarkInfo:
        """The registry's metadata; for a class the registry does not name (a test's stand-in that
        borrows a registered name), one made from its class attributes, every arg typed "any"."""
        if cls.info is not None:
            return cls.info
        return BenchmarkInfo(
            name=cls.name, entry=f"{cls.__module__}:{cls.__qualname__}", title=cls.title,
            description=cls.description, metric=cls.metric, split=cls.split, subsets=cls.subsets,
            data_dirname=cls.data_dirname, system_prompt=True,
            args=tuple(Arg(k, "any", v, k) for k, v in cls.default_args.items() if k != "subset_list"))

    # --- configuration ---
    def resolve_args(self, user_args: dict | None) -> dict:
        """Defaults + the user's --dataset-args, each checked against the declaration."""
        args = resolve_args(self.declared_info(), user_args)
        if args.get("dataset_id") is not None:
            log.warning("%s: dataset_id %r is ignored; evalpack reads only local files "
                        "(--dataset-dir, or local_path in --dataset-args)", self.name, args["dataset_id"])
        return args

    def run_defaults(self) -> dict[str, str]:
        """Args that default to a run setting when null: arg name -> RunConfig attribute."""
        return {a.name: a.run_default for a in self.declared_info().all_args() if a.run_default}

    def node_resources(self, args: dict) -> dict[str, float]:
        """Ray resources a node must offer to run this benchmark's samples (`--ray`): the declared
        ones, and "docker" when its programs run in containers (--sandbox docker)."""
        need = {name: 1.0 for name in self.declared_info().node_resources}
        if args.get("sandbox") == "docker":
            need["docker"] = 1.0
        return need

    def selected_subsets(self, args: dict) -> list[str]:
        return list(args.get("subset_list") or self.subsets)

    # --- data ---
    def root(self, data_dir: Path, args: dict) -> Path:
        """The folder holding this benchmark's files: `local_path`, else <dataset-dir>/<data_dirname>,
        else (a plugin that ships its files) the folder of the installed package holding them."""
        if args.get("local_path"):
            return Path(args["local_path"])
        root = Path(data_dir) / self.data_dirname
        if not root.is_dir():
            from evalpack.datasets.registry import find_manifest

            manifest = find_manifest(self.data_dirname)
            if manifest and manifest.bundled:
                return Path(manifest.bundled)
        return root

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

    def check_samples(self, samples: list[Sample], args: dict, judged: bool) -> None:
        """Refuse, before any request, samples this run cannot score: `judged` tells whether a
        judge grades them (e.g. general_qa rows without a reference need one). Default: all fine."""

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


def _check_class_agrees(cls: type, declared: dict) -> None:
    """A class that still states its own metadata must say what registry.py says: otherwise one
    of the two is stale, and the registry's (the one `evalpack list` shows) would win silently."""
    for key, value in declared.items():
        if key not in cls.__dict__:
            continue
        mine = cls.__dict__[key]
        if key == "default_args":
            differs = {k for k in mine if k not in value or mine[k] != value[k]}
        else:
            differs = mine != value and not (key == "subsets" and tuple(mine) == value)
        if differs:
            raise TypeError(f"{cls.__module__}.{cls.__name__}.{key} differs from its entry in "
                            f"evalpack/benchmarks/registry.py ({sorted(differs) if key == 'default_args' else value!r});"
                            f" metadata and args belong in the registry: declare them there and drop them here")


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
