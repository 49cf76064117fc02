"""What `evalpack perf` sends: random prompts of an exact token length, the kit's real
prompts (any benchmark, captured from its own prompt code), a user JSONL, or the requests
stored in an earlier run (replay).

Random prompts are words that are one token each in common BPE tokenizers (cl100k, Llama,
Qwen, SmolLM...), drawn at random so no two prompts share a prefix a server could cache.
Their length is counted either by the server: two probe requests measure its chat
template's overhead and the tokens per word from `usage.prompt_tokens`, so the input length
is what the server itself reports; or by a tokenizer the user names (the message text only;
the server adds its template).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from evalpack.errors import DataMissingError, UsageError
from evalpack.perf.load import Item, Sender

WORDS = (
    "the of and to in is was for on that with as by at from his it an were are which this be or have had "
    "not but one their its first new after has who they been her two also more she there other all when "
    "would time into only some about can three most during city than over known state year years school "
    "later world up many may such where film war him made these used then while them before part under "
    "between no american well both national through people music since however because being same each "
    "including game team season until four history called series against like best life early use last "
    "group found another high river family area company place work around album song number long league "
    "public small large based local great north general south main population days water power").split()


@dataclass
class OutputLengths:
    max_tokens: int | None = 128
    range_ratio: float = 0.0  # uniform in [n(1-r), n(1+r)], like vLLM's --random-range-ratio
    ignore_eos: bool = False

    def apply(self, body: dict, rng: random.Random) -> dict:
        if self.max_tokens:
            n = self.max_tokens
            if self.range_ratio:
                n = rng.randint(max(1, round(n * (1 - self.range_ratio))), max(1, round(n * (1 + self.range_ratio))))
            body["max_tokens"] = n
            if self.ignore_eos:  # vLLM, SGLang and llama.cpp read these; others ignore them
                body["ignore_eos"] = True
                body["min_tokens"] = n
        return body


def stream_body(body: dict) -> dict:
    body = dict(body)
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


def random_words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, k=max(0, n)))


class TokenizerCounter:
    """A tokenizer.json (Hugging Face `tokenizers`), counting message text only."""

    def __init__(self, path: Path) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise UsageError(f"--tokenizer {path}: reading tokenizer.json needs the `tokenizers` "
                             f"package (pip install tokenizers), or use tiktoken:<encoding>") from None
        self._tok = Tokenizer.from_file(str(path))
        self.name = f"tokenizer.json ({path.name})"

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)


def make_counter(spec: str | None):
    """None (count with the server's usage), tiktoken:<encoding>, or a tokenizer.json path."""
    if not spec or spec == "server":
        return None
    if spec.startswith("tiktoken:"):
        from evalpack.benchmarks.longbench_v2 import make_counter as tiktoken_counter
        return tiktoken_counter(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise UsageError(f"--tokenizer {spec}: not tiktoken:<encoding>, and no tokenizer.json there")
    return TokenizerCounter(path)


class RandomPrompts:
    def __init__(self, input_len: int, range_ratio: float, outputs: OutputLengths, model: str,
                 seed: int, counter=None, turns: int = 1, extra: dict | None = None) -> None:
        if input_len < 1:
            raise UsageError("--input-len must be at least 1 token")
        self.input_len, self.range_ratio, self.outputs = input_len, range_ratio, outputs
        self.model, self.counter, self.turns, self.extra = model, counter, turns, extra or {}
        self.rng = random.Random(seed)
        self.overhead, self.per_word = 0.0, 1.0
        self.note = ""

    async def calibrate(self, sender: Sender) -> None:
        """Measure the server's template overhead and tokens per word with two probe prompts
        (distinct from every measured prompt, so they warm no prefix cache for them)."""
        if self.counter is not None:
            self.note = f"input tokens counted with {self.counter.name} (message text; the server adds its template)"
            return
        rng = random.Random(-1)
        counts = []
        for n in (16, 80):
            body = {"model": self.model, "messages": [{"role": "user", "content": random_words(rng, n)}],
                    "max_tokens": 1, "stream": False, **self.extra}
            rec = await sender._one(body, None, None)
            if not rec.ok or rec.prompt_tokens is None:
                raise UsageError("the server reported no usage.prompt_tokens for a probe request "
                                 f"({rec.error or 'no usage in the reply'}); name a tokenizer with "
                                 "--tokenizer tiktoken:cl100k_base or a tokenizer.json")
            counts.append(rec.prompt_tokens)
        self.per_word = (counts[1] - counts[0]) / 64
        self.overhead = counts[0] - 16 * self.per_word
        exact = abs(self.per_word - 1.0) < 1e-9
        self.note = (f"input tokens counted by the server (usage.prompt_tokens, chat template included: "
                     f"{self.overhead:.0f} tokens of it); "
                     + ("one token per word, so lengths are exact" if exact else
                        f"{self.per_word:.3f} tokens per word: lengths are approximate, see input_len"))

    def _words_for(self, tokens: int) -> int:
        if self.counter is not None:
            return tokens
        return max(1, round((tokens - self.overhead) / self.per_word))

    def _text(self, tokens: int) -> str:
        text = random_words(self.rng, self._words_for(tokens))
        if self.counter is not None:  # trim or pad to the exact count under this tokenizer
            words = text.split()
            count = self.counter.count(text)
            while count != tokens and (count < tokens or len(words) > 1):
                if count > tokens:  # a word of several tokens: drop words from the end
                    del words[max(1, len(words) - (count - tokens)):]
                else:
                    words += self.rng.choices(WORDS, k=tokens - count)
                count = self.counter.count(" ".join(words))
            text = " ".join(words)
        return text

    def _length(self) -> int:
        if not self.range_ratio:
            return self.input_len
        lo = max(1, round(self.input_len * (1 - self.range_ratio)))
        return self.rng.randint(lo, max(lo, round(self.input_len * (1 + self.range_ratio))))

    def iterate(self) -> Iterator[Item]:
        """New prompts without end, none seen before."""
        while True:
            body = {"model": self.model, "messages": [{"role": "user", "content": self._text(self._length())}],
                    **self.extra}
            body = stream_body(self.outputs.apply(body, self.rng))
            turns = [self._text(self._length()) for _ in range(self.turns - 1)] or None
            yield Item(body, turns)

    def describe(self) -> str:
        spread = f" ±{self.range_ratio:.0%}" if self.range_ratio else ""
        turns = f", {self.turns} turns per conversation" if self.turns > 1 else ""
        return f"random words, {self.input_len}{spread} input tokens{turns}"


class _Captured(Exception):
    pass


class _CaptureContext:
    """A SolveContext that records a benchmark's first request instead of sending it."""

    def __init__(self, args: dict, root: Path) -> None:
        self.args, self.generation, self.repeat, self.root = args, {}, 0, root
        self.seed = args.get("seed")
        self.usage: dict = {}
        self.latency, self.calls = 0.0, 0
        self.request: dict | None = None

    async def chat(self, messages, *, tools=None, **params):
        self.request = {"messages": messages, **({"tools": tools} if tools else {}), **params}
        raise _Captured

    def other_model(self, *a, **k) -> "_CaptureContext":
        return self


async def kit_bodies(name: str, data_dir: Path, dataset_args: dict | None, limit: int | None) -> list[dict]:
    """The first request each sample of benchmark `name` would send, built by its own code."""
    from evalpack.benchmarks import registry
    from evalpack.benchmarks.base import subset_limit
    from evalpack.datasets.verify import check_before_run

    bench = registry.get(name)
    args = bench.resolve_args(dataset_args)
    if args.get("seed") is None:
        args["seed"] = 42
    check_before_run([(bench, args)], data_dir)
    samples = subset_limit(bench.load(data_dir, args), limit)
    bodies = []
    for sample in samples:
        ctx = _CaptureContext(args, bench.root(data_dir, args))
        try:
            await bench.solve(sample, ctx)
        except _Captured:
            pass
        if ctx.request is not None:
            bodies.append(ctx.request)
    if not bodies:
        raise DataMissingError(f"{name}: no sample produced a request to replay")
    return bodies


def jsonl_bodies(path: Path) -> list[tuple[dict, list[str] | None]]:
    """Lines of {"messages": [...]} or {"prompt": "..."}, with optional "max_tokens" and
    "turns" (later user turns: the conversation is played turn by turn)."""
    if not path.is_file():
        raise UsageError(f"--jsonl {path}: no such file")
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UsageError(f"--jsonl {path}:{i}: not JSON") from None
        if isinstance(row, dict) and isinstance(row.get("messages"), list):
            body = {k: v for k, v in row.items() if k != "turns"}
        elif isinstance(row, dict) and isinstance(row.get("prompt"), str):
            body = {"messages": [{"role": "user", "content": row["prompt"]}],
                    **{k: v for k, v in row.items() if k not in ("prompt", "turns")}}
        else:
            raise UsageError(f"--jsonl {path}:{i}: expected {{\"messages\": [...]}} or {{\"prompt\": \"...\"}}")
        turns = row.get("turns")
        if turns is not None and not (isinstance(turns, list) and all(isinstance(t, str) for t in turns)):
            raise UsageError(f"--jsonl {path}:{i}: \"turns\" must be a list of strings")
        out.append((body, turns or None))
    if not out:
        raise UsageError(f"--jsonl {path}: no requests in it")
    return out


def replay_bodies(run_dir: Path) -> list[dict]:
    """The requests an earlier `evalpack eval` sent, in the order it sent them."""
    from evalpack.store import RunStore

    db = Path(run_dir) / "run.db"
    if not db.is_file():
        raise UsageError(f"--replay {run_dir}: no evalpack run there (run.db is missing)")
    store = RunStore(db)
    try:
        bodies = list(store.requests())
    finally:
        store.close()
    if not bodies:
        raise UsageError(f"--replay {run_dir}: the run stored no requests")
    return bodies


class FixedPrompts:
    """Kit, JSONL or replayed requests, with perf's model, streaming and output lengths."""

    def __init__(self, entries: list[tuple[dict, list[str] | None]], what: str, outputs: OutputLengths | None,
                 model: str, seed: int, extra: dict | None = None, shuffle: bool = False) -> None:
        self.entries, self.what, self.outputs = list(entries), what, outputs
        if shuffle:  # e.g. to measure what sending shared prefixes together saves
            random.Random(seed).shuffle(self.entries)
            self.what += ", shuffled"
        self.model, self.extra = model, extra or {}
        self.rng = random.Random(seed)
        self.note = "input tokens as the server reports them (usage.prompt_tokens)"

    async def calibrate(self, sender: Sender) -> None:
        return None

    def iterate(self) -> Iterator[Item]:
        """The entries in order, round and round."""
        items = []
        for body, turns in self.entries:
            body = {**body, "model": self.model, **self.extra}
            if self.outputs is not None:
                body = self.outputs.apply(body, self.rng)
            items.append(Item(stream_body(body), turns))
        while True:
            yield from items

    def describe(self) -> str:
        return f"{self.what} ({len(self.entries)} distinct requests)"
