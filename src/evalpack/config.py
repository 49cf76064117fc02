"""Flags and YAML -> one validated RunConfig.

The keys are EvalScope's (`TaskConfig`), so a command or YAML file written for
`evalscope eval` works with `evalpack eval`. Flags given on the command line
override the YAML file. Every problem is reported as one UsageError sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalpack.errors import UsageError

# Request parameters passed to /chat/completions as they are.
REQUEST_PARAMS = {
    "temperature", "top_p", "top_k", "min_p", "max_tokens", "max_completion_tokens", "n", "stop",
    "seed", "presence_penalty", "frequency_penalty", "repetition_penalty", "logprobs",
    "top_logprobs", "logit_bias", "stream", "stream_options", "response_format", "tool_choice",
    "parallel_tool_calls", "reasoning_effort", "user", "extra_body",
}
# Client behaviour, not sent to the server.
TRANSPORT_PARAMS = {"timeout", "retries", "retry_interval"}
# Spellings other tools use for the same thing.
PARAM_ALIASES = {"max_new_tokens": "max_tokens", "max_length": "max_tokens"}

CONFIG_KEYS = {
    "model", "api_url", "api_key", "eval_type", "datasets", "dataset_args", "dataset_dir",
    "dataset_hub", "generation_config", "limit", "eval_batch_size", "work_dir", "use_cache",
    "seed", "quiet", "fresh", "timeout", "stream", "model_id", "sandbox",
}
EVAL_TYPES = {"openai_api", "service", "server", "api"}
SECRET = "***"


def default_dataset_dir() -> Path:
    return Path(os.environ.get("EVALPACK_DATA") or Path.home() / ".cache" / "evalpack" / "datasets")


@dataclass
class RunConfig:
    model: str
    api_urls: list[str]
    datasets: list[str]
    api_key: str | None = field(default=None, repr=False)
    dataset_args: dict = field(default_factory=dict)
    dataset_dir: Path = field(default_factory=default_dataset_dir)
    generation: dict = field(default_factory=dict)  # request parameters
    timeout: float = 600.0
    retries: int = 3
    limit: int | float | None = None
    concurrency: int = 32
    work_dir: Path = Path("outputs")
    use_cache: Path | None = None
    seed: int = 42
    quiet: bool = False
    fresh: bool = False
    sandbox: str | None = None  # engine for code benchmarks: local | docker

    def redacted(self) -> dict:
        d = asdict(self)
        d["api_key"] = SECRET if self.api_key else None
        for key in ("dataset_dir", "work_dir", "use_cache"):
            d[key] = str(d[key]) if d[key] is not None else None
        d["dataset_args"] = redact(self.dataset_args)
        return d

    def run_id(self) -> str:
        """Same settings -> same run directory, so re-running a command resumes it."""
        keyed = {"model": self.model, "datasets": sorted(self.datasets),
                 "dataset_args": redact(self.dataset_args), "generation": self.generation,
                 "seed": self.seed}
        digest = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model).strip("_")[:60] or "model"
        return f"{safe}-{digest}"


# api_key, apiKey, access_token, secret, password...; not max_tokens or key_points
_SECRET_KEY = re.compile(r"(^|[_-])(api[_-]?key|apikey|key|token|access[_-]?token|secret|password|passwd|"
                         r"auth|authorization|credentials?)$|^apiKey$", re.I)


def redact(value: Any) -> Any:
    """Blank out anything that looks like a secret (api_key, token, password...)."""
    if isinstance(value, dict):
        return {k: (SECRET if v and _SECRET_KEY.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def parse_json_arg(name: str, value: Any) -> dict:
    """--dataset-args / --generation-config: JSON object, or EvalScope's `k=v,k=v` form."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    text = str(value).strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{name} is not valid JSON ({e.msg} at character {e.pos}); "
                             f"quote it in single quotes, e.g. {name} '{{\"temperature\": 0}}'") from None
        if not isinstance(parsed, dict):
            raise UsageError(f"{name} must be a JSON object, e.g. '{{\"temperature\": 0}}'")
        return parsed
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise UsageError(f"{name}: {part!r} is neither JSON nor key=value; "
                             f"use e.g. {name} '{{\"temperature\": 0}}'")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v.strip()
    return out


def split_generation(gen: dict) -> tuple[dict, dict]:
    """(request params, transport params) from --generation-config, with aliases resolved."""
    request, transport = {}, {}
    for key, value in gen.items():
        key = PARAM_ALIASES.get(key, key)
        if key in TRANSPORT_PARAMS:
            transport[key] = value
        elif key == "do_sample":
            if value is False:
                request.setdefault("temperature", 0.0)
        elif key in REQUEST_PARAMS:
            request[key] = value
        else:
            raise UsageError(f"--generation-config: unknown key {key!r}; known keys: "
                             f"{', '.join(sorted(REQUEST_PARAMS | TRANSPORT_PARAMS))} "
                             f"(put server-specific parameters under \"extra_body\")")
    if request.get("n", 1) not in (1, None):
        raise UsageError("--generation-config: n > 1 is not sent to the server; ask for several "
                         "samples per question with --dataset-args '{\"<dataset>\": {\"repeats\": N}}' "
                         "(HumanEval: {\"humaneval\": {\"n\": N}})")
    request.pop("n", None)
    for key in ("temperature", "top_p"):
        if key in request and not isinstance(request[key], (int, float)):
            raise UsageError(f"--generation-config: {key} must be a number, got {request[key]!r}")
    if "max_tokens" in request and not (isinstance(request["max_tokens"], int) and request["max_tokens"] > 0):
        raise UsageError(f"--generation-config: max_tokens must be a positive integer, "
                         f"got {request['max_tokens']!r}")
    return request, transport


def presets() -> dict[str, Path]:
    """Packaged run presets (evalpack/presets/<name>.yaml), for `--config NAME`."""
    from importlib import resources

    folder = resources.files("evalpack") / "presets"
    return {Path(e.name).stem: Path(str(e)) for e in folder.iterdir() if e.name.endswith(".yaml")}


def load_yaml(path: str) -> dict:
    import yaml

    p = Path(path)
    if not p.is_file() and "/" not in path and os.sep not in path:
        known = presets()
        if path not in known:
            raise UsageError(f"--config {path}: no such file or preset; presets: {', '.join(sorted(known))}")
        p = known[path]
    if not p.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UsageError(f"--config {path} is not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path} must be a mapping of keys (model: ..., datasets: [...])")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise UsageError(f"--config {path}: unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; known keys: {', '.join(sorted(CONFIG_KEYS))}")
    return data


def build_config(flags: dict, yaml_path: str | None = None) -> RunConfig:
    """flags: argparse values (None = not given). YAML fills what flags leave unset."""
    merged = load_yaml(yaml_path) if yaml_path else {}
    merged.update({k: v for k, v in flags.items() if v is not None})

    model = merged.get("model") or merged.get("model_id")
    if not model:
        raise UsageError("no --model given; name the model as the server lists it (GET /v1/models)")
    urls = merged.get("api_url")
    if not urls:
        raise UsageError("no --api-url given; point it at the server, e.g. --api-url http://127.0.0.1:8000/v1")
    urls = [urls] if isinstance(urls, str) else list(urls)
    datasets = merged.get("datasets")
    if not datasets:
        raise UsageError("no --datasets given; e.g. --datasets mmlu (see `evalpack list`)")
    datasets = [datasets] if isinstance(datasets, str) else [str(d) for d in datasets]

    eval_type = merged.get("eval_type")
    if eval_type and eval_type not in EVAL_TYPES:
        raise UsageError(f"--eval-type {eval_type!r} is not supported; evalpack evaluates models served "
                         f"over an OpenAI-compatible API: use --eval-type openai_api")

    gen = parse_json_arg("--generation-config", merged.get("generation_config"))
    if merged.get("stream") is not None:
        gen.setdefault("stream", bool(merged["stream"]))
    if merged.get("timeout") is not None:
        gen.setdefault("timeout", merged["timeout"])
    request, transport = split_generation(gen)

    dataset_args = parse_json_arg("--dataset-args", merged.get("dataset_args"))
    for name, value in dataset_args.items():
        if not isinstance(value, dict):
            raise UsageError(f"--dataset-args: the value for {name!r} must be an object, "
                             f"e.g. '{{\"{name}\": {{\"few_shot_num\": 0}}}}'")

    limit = merged.get("limit")
    if limit is not None:
        try:
            limit = float(limit)
        except (TypeError, ValueError):
            raise UsageError(f"--limit must be a number (N per subset, or a fraction below 1), "
                             f"got {merged['limit']!r}") from None
        if limit <= 0:
            raise UsageError("--limit must be positive")
        limit = int(limit) if limit >= 1 else limit

    def number(key: str, cast, default, minimum):
        value = merged.get(key, default)
        try:
            value = cast(value)
        except (TypeError, ValueError):
            raise UsageError(f"--{key.replace('_', '-')} must be a number, got {value!r}") from None
        if value < minimum:
            raise UsageError(f"--{key.replace('_', '-')} must be at least {minimum}, got {value}")
        return value

    api_key = merged.get("api_key") or os.environ.get("EVALPACK_API_KEY") or None
    if api_key in ("EMPTY", "none", "None"):
        api_key = None
    return RunConfig(
        model=str(model), api_urls=[str(u) for u in urls], datasets=datasets, api_key=api_key,
        dataset_args=dataset_args,
        dataset_dir=Path(merged.get("dataset_dir") or default_dataset_dir()).expanduser(),
        generation=request,
        timeout=_positive(transport.get("timeout", 600.0), "timeout"),
        retries=int(_positive(transport.get("retries", 3), "retries", allow_zero=True)),
        limit=limit,
        concurrency=number("eval_batch_size", int, 32, 1),
        work_dir=Path(merged.get("work_dir") or "outputs").expanduser(),
        use_cache=Path(merged["use_cache"]).expanduser() if merged.get("use_cache") else None,
        seed=number("seed", int, 42, 0),
        quiet=bool(merged.get("quiet", False)),
        fresh=bool(merged.get("fresh", False)),
        sandbox=merged.get("sandbox") or None,
    )


def _positive(value: Any, name: str, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--generation-config: {name} must be a number, got {value!r}") from None
    if v < 0 or (v == 0 and not allow_zero):
        raise UsageError(f"--generation-config: {name} must be {'>= 0' if allow_zero else '> 0'}, got {v}")
    return v
