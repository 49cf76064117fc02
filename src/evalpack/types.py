"""The records every layer passes around. This module imports nothing of evalpack, so the data
layer (datasets/), the metrics, the client and the benchmarks can all use it without a loop.

    Sample      one question of a benchmark, as its `load` builds it
    ChatReply   one reply of the model (the client makes it, `ctx.chat` returns it)
    Score       what `Benchmark.score` reads from one output
    Result      one scored (sample, repeat) as the run store keeps it
    DataFile    one upstream file of a dataset directory (the manifests list them)
    SolveContext what `Benchmark.solve` may use to reach the model
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# The seed of shuffles and sampling when a run names none (--seed's default).
DEFAULT_SEED = 42


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


@dataclass
class ChatReply:
    """One chat completion: what the server said, plus how long it took."""

    content: str | None
    tool_calls: list[dict] | None = None
    finish_reason: str | None = None
    reasoning: str | None = None
    usage: dict = field(default_factory=dict)
    latency: float = 0.0
    attempts: int = 1
    # streamed replies only: seconds from sending to the first text/tool-call delta, and the
    # offsets of every such delta (not stored with the reply: `evalpack perf` reads them)
    ttft: float | None = None
    chunk_times: list[float] | None = field(default=None, repr=False)
    # what the server says it did, where it says it (llama.cpp's `timings`: prompt_n, prompt_ms, ...)
    server_timings: dict | None = field(default=None, repr=False)
    # the choice's `logprobs` as the server sent it (requested with `logprobs`; TruthfulQA MC2)
    logprobs: dict | None = field(default=None, repr=False)

    @property
    def tpot(self) -> float | None:
        """Time per output token after the first: (e2e - TTFT) / (completion tokens - 1)."""
        tokens = (self.usage or {}).get("completion_tokens")
        if self.ttft is None or not isinstance(tokens, int) or tokens < 2:
            return None
        return (self.latency - self.ttft) / (tokens - 1)

    def message(self) -> dict:
        """The assistant message, ready to append to a conversation."""
        msg: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        return msg

    def to_json(self) -> dict:
        out = {"content": self.content, "tool_calls": self.tool_calls,
               "finish_reason": self.finish_reason, "reasoning": self.reasoning,
               "usage": self.usage, "latency": self.latency, "attempts": self.attempts}
        if self.ttft is not None:
            out.update(ttft=self.ttft, tpot=self.tpot)
        if self.logprobs is not None:
            out["logprobs"] = self.logprobs
        return out

    @classmethod
    def from_json(cls, d: dict) -> "ChatReply":
        return cls(content=d.get("content"), tool_calls=d.get("tool_calls"),
                   finish_reason=d.get("finish_reason"), reasoning=d.get("reasoning"),
                   usage=d.get("usage") or {}, latency=d.get("latency") or 0.0,
                   attempts=d.get("attempts") or 1, ttft=d.get("ttft"), logprobs=d.get("logprobs"))


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


class SolveContext(Protocol):
    """What `Benchmark.solve` may use. The runner implements it (evalpack.context)."""

    args: dict  # this benchmark's resolved dataset args
    generation: dict  # request parameters from --generation-config (temperature, max_tokens, ...)
    repeat: int  # 0..repeats-1
    seed: int | None
    # the folder holding this benchmark's files (`local_path`, else <dataset-dir>/<dirname>):
    # what solve reads beyond its Sample comes from here, never from state `load` left behind
    root: Path

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
