"""The LLM judge: its settings (EvalScope's flags), when a benchmark uses it, and one verdict.

A judge is another OpenAI-compatible endpoint that grades a reply. Its calls go through the
run's Context (the same client code, cache, retries and run store as the model's), stored
under the sample's keys with their own role, so resume and `rescore` replay them (see
context.py). This module is below the run layer: it knows settings and verdicts, and is handed
a way to open a judge Context per attempt.

Strategies (EvalScope's `--judge-strategy`):
  auto        a benchmark graded only by a judge (SimpleQA) uses it; rule-scored ones do not;
              tau2 judges its natural-language assertions when a judge is configured
  rule        never a judge (refused for a benchmark that has no rule)
  llm         the judge grades every sample of a benchmark that can be judged
  llm_recall  the rule first; the judge only when the rule says "wrong" (the score is the
              higher of the two); refused for a benchmark that has no rule
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from evalpack.errors import ModelCallError, UsageError
from evalpack.scrub import add_secret, add_url_secrets, redact_url
from evalpack.scoring.reasoning import answer_text

STRATEGIES = ("auto", "rule", "llm", "llm_recall")
MODEL_ARGS_KEYS = ("model_id", "api_url", "api_key", "generation_config")
# EvalScope's own judge-prompt knobs: evalpack's judge prompts are each benchmark's documented one
NOT_SUPPORTED_KEYS = ("system_prompt", "prompt_template", "score_type", "score_pattern", "score_mapping")
# EvalScope's LLMJudge defaults when no generation_config is given
DEFAULT_GENERATION = {"temperature": 0.0, "max_tokens": 1024}
MAX_ATTEMPTS = 3  # one request and two retries (each with a format reminder) per verdict
MAX_WORKERS = 4096

# what a benchmark's scorer can do with a judge (class attribute `judge_policy`)
JUDGE_ONLY = "judge_only"  # no rule at all: needs a judge (SimpleQA)
RULE_DEFAULT = "rule_default"  # a rule; the judge only under llm / llm_recall (math)
JUDGE_IF_GIVEN = "judge_if_given"  # parts only a judge can grade, counted apart without one (tau2 NL)


# EvalScope's default LLMJudge template (evalscope/metrics/llm_judge.py DEFAULT_PROMPT_TEMPLATE), verbatim:
# math's llm_recall and judged general_qa use it, as EvalScope does
EVALSCOPE_TEMPLATE = """Your job is to look at a question, a gold target, and a predicted answer, and return a letter "A" or "B" to indicate whether the predicted answer is correct or incorrect.

[Question]
{question}

[Reference Answer]
{gold}

[Predicted Answer]
{pred}

Evaluate the model's answer based on correctness compared to the reference answer.
Grade the predicted answer of this new question as one of:
A: CORRECT
B: INCORRECT

Just return the letters "A" or "B", with no text around it.
"""
EVALSCOPE_REMINDER = 'Grade it again: reply with only the letter "A" or "B", with no text around it.'

# EvalScope's template for a reply with no reference to grade against (llm_judge.py
# DEFAULT_NUMERIC_SCORE_TEMPLATE), verbatim: a 0-1 rating in double brackets after an explanation
EVALSCOPE_NUMERIC_TEMPLATE = """Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response.
Begin your evaluation by providing a short explanation. Be as objective as possible.
After providing your explanation, you must rate the response on a scale of 0 (worst) to 1 (best) by strictly following this format: \"[[rating]]\", for example: \"Rating: [[0.5]]\"

[Question]
{question}

[Response]
{pred}
"""
EVALSCOPE_NUMERIC_REMINDER = ('Rate it again: end your reply with the rating from 0 (worst) to 1 (best) in double '
                              'brackets, for example "Rating: [[0.5]]".')
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")  # EvalScope's pattern, spaces allowed inside


def read_rating(text: str) -> float | None:
    """The first [[x]] of the reply, when 0 <= x <= 1 (the template's scale); None otherwise: an
    out-of-scale rating (e.g. [[7]] on a 1-10 habit) is unreadable, retried, never taken as a score."""
    match = _RATING.search(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0.0 <= value <= 1.0 else None


def read_ab(text: str) -> float | None:
    """1.0 for A (CORRECT), 0.0 for B (INCORRECT); None when the reply is not one of them."""
    t = text.strip().strip("*_`'\"()[] .:").upper()
    if t in ("A", "A: CORRECT", "CORRECT"):
        return 1.0
    if t in ("B", "B: INCORRECT", "INCORRECT"):
        return 0.0
    return None


class JudgeError(Exception):
    """No verdict for a sample: the judge call failed after its retries, or its reply could not
    be read after MAX_ATTEMPTS. The sample is a judge error: never scored, never counted wrong."""


@dataclass
class JudgeSettings:
    model_id: str | None = None
    api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    generation: dict = field(default_factory=lambda: dict(DEFAULT_GENERATION))
    strategy: str = "auto"
    worker_num: int = 32  # judge requests in flight at once (default: --eval-batch-size)
    timeout: float | None = None  # None: the run's
    retries: int | None = None

    @property
    def configured(self) -> bool:
        return bool(self.model_id)

    def identity(self, prompt_version: str) -> dict:
        """What changes a verdict: part of the settings hash of every judged benchmark."""
        return {"model_id": self.model_id, "api_url": redact_url(self.api_url or ""),
                "generation": self.generation, "strategy": self.strategy, "prompt": prompt_version}

    def redacted(self) -> dict:
        return {"model_id": self.model_id, "api_url": redact_url(self.api_url) if self.api_url else None,
                "api_key": "***" if self.api_key else None, "generation": self.generation,
                "strategy": self.strategy, "worker_num": self.worker_num}


def parse_settings(merged: dict, *, split_generation: Callable[[dict], tuple[dict, dict]], parse_json_arg,
                   default_url: str, default_key: str | None, default_workers: int) -> JudgeSettings:
    """The judge of a run from the merged flags/YAML keys (judge_model_args, judge_model,
    judge_api_url, judge_api_key, judge_strategy, judge_worker_num). The single flags override
    the fields of judge_model_args. A judge named without a URL is served where the model is."""
    args = parse_json_arg("--judge-model-args", merged.get("judge_model_args"))
    unsupported = [k for k in args if k in NOT_SUPPORTED_KEYS]
    if unsupported:
        raise UsageError(f"--judge-model-args: {', '.join(unsupported)} is not supported: each judged benchmark "
                         f"uses its documented judge prompt (docs/judge.md); give only "
                         f"{', '.join(MODEL_ARGS_KEYS)}")
    unknown = sorted(set(args) - set(MODEL_ARGS_KEYS))
    if unknown:
        raise UsageError(f"--judge-model-args: unknown key {', '.join(map(repr, unknown))}; known keys: "
                         f"{', '.join(MODEL_ARGS_KEYS)}")
    for flag, key in (("judge_model", "model_id"), ("judge_api_url", "api_url"), ("judge_api_key", "api_key")):
        if merged.get(flag) is not None:
            args[key] = merged[flag]
    for key in ("model_id", "api_url", "api_key"):
        value = args.get(key)
        if value is not None and (not isinstance(value, str) or "\x00" in value):
            raise UsageError(f"--judge-model-args: {key} must be text, got {type(value).__name__} {value!r}"[:160])
    strategy = merged.get("judge_strategy") or "auto"
    if strategy not in STRATEGIES:
        raise UsageError(f"--judge-strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    workers = merged.get("judge_worker_num")
    if workers is None:
        workers = default_workers
    if isinstance(workers, str) and workers.strip().isdigit():
        workers = int(workers)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--judge-worker-num must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}")
    model = args.get("model_id") or None
    if not model:
        if args.get("api_url") or args.get("api_key") or args.get("generation_config"):
            raise UsageError("the judge has no model: name it with --judge-model NAME (or \"model_id\" in "
                             "--judge-model-args), as its server lists it in GET /v1/models")
        return JudgeSettings(strategy=strategy, worker_num=workers)
    url = args.get("api_url") or default_url
    if not url.strip().lower().startswith(("http://", "https://")):
        raise UsageError(f"--judge-api-url {url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
    key = args.get("api_key") if "api_key" in args else (default_key if not args.get("api_url") else None)
    if key in ("EMPTY", "none", "None", ""):
        key = None
    add_secret(key)
    add_url_secrets(url)
    gen_given = args.get("generation_config")
    if gen_given is not None and not isinstance(gen_given, (dict, str)):
        raise UsageError("--judge-model-args: generation_config must be an object, e.g. {\"temperature\": 0}")
    request, transport = split_generation(parse_json_arg("--judge-model-args generation_config", gen_given)) \
        if gen_given is not None else (dict(DEFAULT_GENERATION), {})
    request.pop("stream", None)  # a verdict is read whole
    return JudgeSettings(model_id=str(model), api_url=url, api_key=key, generation=request, strategy=strategy,
                         worker_num=workers, timeout=transport.get("timeout"), retries=transport.get("retries"))


def uses_judge(bench_name: str, policy: str | None, settings: JudgeSettings,
               strategies: tuple[str, ...] = STRATEGIES, why_not: str = "") -> bool:
    """Whether this benchmark asks the judge in this run; a UsageError (exit 2, nothing sent) when
    it needs one that is not configured, or the strategy cannot apply to it (`strategies`: those
    the benchmark takes, `why_not` says why another is refused)."""
    strategy = settings.strategy
    if not policy:
        return False
    if strategy not in strategies:
        raise UsageError(f"{bench_name} takes --judge-strategy {' or '.join(strategies)}, not {strategy}"
                         f"{': ' + why_not if why_not else ''}")
    if policy == JUDGE_ONLY:
        if strategy in ("rule", "llm_recall"):
            raise UsageError(f"{bench_name} has no rule-based scoring: it is graded by an LLM judge only, so "
                             f"--judge-strategy {strategy} cannot score it; use --judge-strategy auto or llm")
        needed = True
    elif policy == RULE_DEFAULT:
        needed = strategy in ("llm", "llm_recall")
    else:  # JUDGE_IF_GIVEN
        needed = strategy in ("llm", "llm_recall") or (strategy == "auto" and settings.configured)
    if needed and not settings.configured:
        why = "is graded by an LLM judge" if policy == JUDGE_ONLY else f"uses a judge under --judge-strategy {strategy}"
        raise UsageError(f"{bench_name} {why} and none is configured; give one, e.g. --judge-model NAME "
                         f"--judge-api-url http://127.0.0.1:8000/v1 (or --judge-model-args "
                         f"'{{\"model_id\": \"NAME\", \"api_url\": \"http://127.0.0.1:8000/v1\"}}')")
    return needed


@dataclass
class Verdict:
    value: Any  # what `read` made of the reply
    text: str  # the judge's reply (its answer part)
    attempts: int


class Judge:
    """The judge of one (sample, repeat). `open_attempt(n)` gives the Context of attempt n (a
    distinct call key each, so a retry is never answered by the stored reply it retries)."""

    def __init__(self, open_attempt: Callable[[int], Any], strategy: str) -> None:
        self._open = open_attempt
        self.strategy = strategy
        self.calls = 0
        self.usage: dict[str, int] = {}

    async def grade(self, messages: list[dict], read: Callable[[str], Any], reminder: str) -> Verdict:
        """Ask until `read` returns something other than None, at most MAX_ATTEMPTS times; each
        retry shows the judge its unreadable reply and `reminder` (the format it must use)."""
        text = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            asked = messages if attempt == 1 else [*messages, {"role": "assistant", "content": text},
                                                   {"role": "user", "content": reminder}]
            ctx = self._open(attempt)
            try:
                reply = await ctx.chat(asked)
            except ModelCallError as e:
                raise JudgeError(f"the judge call failed: {e}") from None
            finally:
                self._count(ctx)
            text = answer_text(reply.content) or ""
            value = read(text)
            if value is not None:
                return Verdict(value, text, attempt)
        raise JudgeError(f"the judge's verdict could not be read after {MAX_ATTEMPTS} attempts "
                         f"(last reply: {text[:200]!r})")

    def _count(self, ctx: Any) -> None:
        self.calls += getattr(ctx, "calls", 0)
        for k, v in (getattr(ctx, "usage", None) or {}).items():
            self.usage[k] = self.usage.get(k, 0) + v

    def summary(self) -> dict:
        return {"calls": self.calls, **self.usage}


class StoredVerdictsOnly:
    """The judge "client" of `rescore`: no server is contacted, so a judge call that run.db does
    not hold is a judge error saying so."""

    concurrency = 1

    async def chat(self, body: dict, payload: bytes | None = None) -> Any:
        raise ModelCallError("run.db holds no reply for this judge request (rescore contacts no server; a "
                             "changed judge prompt or scorer asks a new question): run `evalpack eval` again "
                             "with the same flags to ask the judge", kind="not_stored")

    async def close(self) -> None:
        return None


def not_stored(error: str | None) -> bool:
    return bool(error) and "run.db holds no reply for this judge request" in error


def usage_total(rows: list[dict]) -> dict:
    """The judge usage of a benchmark's results (each row's detail.judge_usage), summed."""
    total: dict[str, int] = {}
    for detail in rows:
        for k, v in ((detail or {}).get("judge_usage") or {}).items():
            if isinstance(v, int) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v
    return total


def json_object(text: str) -> dict | None:
    """The first JSON object in a reply (bare or in a ```json fence), or None."""
    start = text.find("{")
    while start != -1:
        depth, in_str, escape = 0, False, False
        for i in range(start, len(text)):
            ch = text[i]
            if in_str:
                if escape:
                    escape = False
                elif ch == "\\":
                    escape = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    try:
                        value = json.loads(text[start:i + 1])
                    except ValueError:
                        break
                    return value if isinstance(value, dict) else None
        start = text.find("{", start + 1)
    return None

