"""Flags and YAML -> one validated RunConfig.

The keys are EvalScope's (`TaskConfig`), so a command or YAML file written for
`evalscope eval` works with `evalpack eval`. Flags given on the command line
override the YAML file. Every problem is reported as one UsageError sentence:
every value is checked for type and range (NaN and Infinity are never numbers
here), with bounds that keep memory and time sane.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evalpack.errors import UsageError
from evalpack.paths import default_dataset_dir
from evalpack.scoring.judge import JudgeSettings, parse_settings as parse_judge
from evalpack.scrub import add_secret, add_url_secrets, redact_url
from evalpack.shard import Shard, parse as parse_shard

# the judge's keys (EvalScope's); parsed in scoring/judge.py
JUDGE_KEYS = ("judge_model_args", "judge_model", "judge_api_url", "judge_api_key", "judge_strategy",
              "judge_worker_num")

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
    "seed", "quiet", "fresh", "timeout", "stream", "model_id", "sandbox", "ignore_errors", "skip_preflight",
    "ray",
    "shard", "sweep",
    *JUDGE_KEYS,
}
BOOL_KEYS = {"quiet", "fresh", "stream", "ignore_errors", "skip_preflight"}
TEXT_KEYS = {"model", "model_id", "eval_type", "dataset_dir", "dataset_hub", "work_dir", "use_cache", "sandbox",
             "api_key"}
SANDBOXES = {"local", "docker"}
# bounds: a value outside is a typo, and inside one the run stays within memory and time
MAX_TIMEOUT = 7 * 24 * 3600.0
MAX_RETRIES = 100
MAX_RETRY_INTERVAL = 3600.0
MAX_CONCURRENCY = 4096
MAX_LIMIT = 10**9
MAX_SEED = 2**63 - 1
MAX_TOKENS = 10**8
EVAL_TYPES = {"openai_api", "service", "server", "api"}
SECRET = "***"




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
    retry_interval: float | None = None  # first wait between attempts (doubles each time)
    limit: int | float | None = None
    concurrency: int = 32
    work_dir: Path = Path("outputs")
    use_cache: Path | None = None
    seed: int = 42
    quiet: bool = False
    fresh: bool = False
    sandbox: str | None = None  # engine for code benchmarks: local | docker
    ignore_errors: bool = False  # exit 0 even when samples ended in an error
    skip_preflight: bool = False  # do not ask GET /v1/models before the run
    ray: str | None = None  # run samples on Ray: "" = a local Ray, else the cluster's address (ray_pool.py)
    shard: Shard | None = None  # run only this part of the samples (shard.py); merge joins the parts
    judge: JudgeSettings = field(default_factory=JudgeSettings)  # --judge-*: none unless given

    def redacted(self) -> dict:
        d = asdict(self)
        d["api_key"] = SECRET if self.api_key else None
        d["api_urls"] = [redact_url(u) for u in self.api_urls]
        d["generation"] = redact(self.generation)
        for key in ("dataset_dir", "work_dir", "use_cache"):
            d[key] = str(d[key]) if d[key] is not None else None
        d["dataset_args"] = redact(self.dataset_args)
        d["judge"] = self.judge.redacted()
        return d

    def run_id(self) -> str:
        """Same settings -> same run directory, so re-running a command resumes it."""
        keyed = {"model": self.model, "datasets": sorted(self.datasets),
                 "dataset_args": redact(self.dataset_args), "generation": self.generation,
                 "seed": self.seed}
        digest = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:10]
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model).strip("_")[:60] or "model"
        return f"{safe}-{digest}" + (self.shard.suffix if self.shard else "")


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


def register_secrets(value: Any) -> None:
    """Values under secret-looking keys (extra_body.api_key, a user model's key...) join the scrubber."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and _SECRET_KEY.search(str(k)):
                add_secret(v)
            else:
                register_secrets(v)
    elif isinstance(value, list):
        for v in value:
            register_secrets(v)


def parse_json_arg(name: str, value: Any) -> dict:
    """--dataset-args / --generation-config: JSON object, or EvalScope's `k=v,k=v` form."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if not isinstance(value, str):
        raise UsageError(f"{name} must be a JSON object or a mapping, got {_kind(value)}")
    text = value.strip()
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
        except (json.JSONDecodeError, RecursionError):
            out[k.strip()] = v.strip()
    return out


def _kind(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return f"{type(value).__name__} {value!r}"[:80]


def number(name: str, value: Any, *, integer: bool = False, minimum: float | None = None,
           maximum: float | None = None, above: float | None = None) -> int | float:
    """`value` (a number or numeric text) checked for type and range; NaN and Infinity never pass."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UsageError(f"{name} must be a number, got {_kind(value)}")
    try:
        v = float(value) if not isinstance(value, int) else value
    except (ValueError, OverflowError):
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    if integer:
        if v != int(v):
            raise UsageError(f"{name} must be a whole number, got {value!r}")
        v = int(v)
    if above is not None and not v > above:
        raise UsageError(f"{name} must be greater than {above:g}, got {value!r}")
    if minimum is not None and v < minimum:
        raise UsageError(f"{name} must be at least {minimum:g}, got {value!r}")
    if maximum is not None and v > maximum:
        raise UsageError(f"{name} must be at most {maximum:g}, got {value!r}")
    return v


def _check_json_values(name: str, value: Any, depth: int = 0) -> None:
    """Request parameters are sent as JSON: NaN/Infinity (invalid JSON) and binary data are refused."""
    if depth > 20:
        raise UsageError(f"{name} is nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r} (NaN and Infinity are not JSON)")
    if isinstance(value, (bytes, bytearray)) or not isinstance(value, (str, int, float, bool, type(None),
                                                                      dict, list)):
        raise UsageError(f"{name} must be JSON data, got {_kind(value)}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_json_values(f"{name}.{k}", v, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_json_values(f"{name}[{i}]", v, depth + 1)


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
    _check_json_values("--generation-config", request)
    ranges = {"temperature": (0, 100), "top_p": (0, 1), "min_p": (0, 1), "presence_penalty": (-100, 100),
              "frequency_penalty": (-100, 100), "repetition_penalty": (0, 100)}
    for key, (low, high) in ranges.items():
        if request.get(key) is not None:
            if isinstance(request[key], str) or isinstance(request[key], bool):
                raise UsageError(f"--generation-config: {key} must be a number, got {request[key]!r}")
            number(f"--generation-config: {key}", request[key], minimum=low, maximum=high)
    for key in ("max_tokens", "max_completion_tokens"):
        value = request.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or not 0 < value <= MAX_TOKENS):
            raise UsageError(f"--generation-config: {key} must be a whole number from 1 to {MAX_TOKENS}, "
                             f"got {value!r}")
    for key in ("top_k", "seed", "top_logprobs"):
        value = request.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise UsageError(f"--generation-config: {key} must be a whole number, got {value!r}")
    for key in ("stream", "logprobs", "parallel_tool_calls"):
        if request.get(key) is not None and not isinstance(request[key], bool):
            raise UsageError(f"--generation-config: {key} must be true or false, got {request[key]!r}")
    if request.get("stop") is not None and not (
            isinstance(request["stop"], str)
            or (isinstance(request["stop"], list) and all(isinstance(x, str) for x in request["stop"]))):
        raise UsageError(f"--generation-config: stop must be a string or a list of strings, "
                         f"got {request['stop']!r}")
    for key in ("extra_body", "stream_options", "logit_bias"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise UsageError(f"--generation-config: {key} must be an object, got {_kind(request[key])}")
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
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--config {path}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise UsageError(f"--config {path} is not a text file (not UTF-8); give a YAML file") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        why = " ".join(str(getattr(e, "problem", None) or getattr(e, "reason", None) or e).split())
        raise UsageError(f"--config {path} is not valid YAML{where}: {why}") from None
    except (RecursionError, ValueError, TypeError, OverflowError) as e:
        raise UsageError(f"--config {path} is not valid YAML ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path} must be a mapping of keys (model: ..., datasets: [...])")
    data = {str(k): v for k, v in data.items()}
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise UsageError(f"--config {path}: unknown key{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(unknown)}; known keys: {', '.join(sorted(CONFIG_KEYS))}")
    return data


def build_config(flags: dict, yaml_path: str | None = None, values: dict | None = None) -> RunConfig:
    """flags: argparse values (None = not given). YAML (or `values`, keys as in YAML: one run of
    a sweep) fills what flags leave unset."""
    merged = dict(values) if values is not None else (load_yaml(yaml_path) if yaml_path else {})
    merged.update({k: v for k, v in flags.items() if v is not None})
    if merged.get("sweep") is not None:  # several runs: sweep.py makes one config each
        raise UsageError("sweep: lists several runs; give the file to `evalpack eval --config FILE`, which runs "
                         "each entry and compares them (docs/distributed.md)")
    _check_types(merged)

    model = merged.get("model") or merged.get("model_id")
    if not model:
        raise UsageError("no --model given; name the model as the server lists it (GET /v1/models)")
    urls = merged.get("api_url")
    if not urls:
        raise UsageError("no --api-url given; point it at the server, e.g. --api-url http://127.0.0.1:8000/v1")
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not all(isinstance(u, str) and u.strip() for u in urls):
        raise UsageError(f"--api-url must be one or more URLs, got {_kind(merged['api_url'])}")
    for url in urls:
        if not url.strip().lower().startswith(("http://", "https://")) or "\x00" in url:
            raise UsageError(f"--api-url {url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
    datasets = merged.get("datasets")
    if not datasets:
        raise UsageError("no --datasets given; e.g. --datasets mmlu (see `evalpack list`)")
    if isinstance(datasets, str):
        datasets = [datasets]
    if not isinstance(datasets, list) or not all(isinstance(d, str) and d for d in datasets):
        raise UsageError(f"--datasets must be benchmark names, e.g. [mmlu, gsm8k]; got {_kind(merged['datasets'])}")

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
        limit = number("--limit", limit, above=0, maximum=MAX_LIMIT)
        if limit >= 1 and limit != int(limit):
            raise UsageError(f"--limit must be a whole number of samples per subset or a fraction "
                             f"below 1, got {merged['limit']!r}")
        limit = int(limit) if limit >= 1 else float(limit)

    register_secrets(request)
    register_secrets(dataset_args)
    for url in urls:
        add_url_secrets(url)
    api_key = merged.get("api_key") or os.environ.get("EVALPACK_API_KEY") or None
    add_secret(api_key)
    if api_key in ("EMPTY", "none", "None"):
        api_key = None
    concurrency = int(number("--eval-batch-size", merged.get("eval_batch_size", 32), integer=True,
                             minimum=1, maximum=MAX_CONCURRENCY))
    judge = parse_judge(merged, split_generation=split_generation, parse_json_arg=parse_json_arg,
                        default_url=str(urls[0]), default_key=api_key, default_workers=concurrency)
    return RunConfig(
        model=str(model), api_urls=[str(u) for u in urls], datasets=datasets, api_key=api_key,
        dataset_args=dataset_args,
        dataset_dir=Path(merged.get("dataset_dir") or default_dataset_dir()).expanduser(),
        generation=request,
        timeout=float(number("timeout", transport.get("timeout", 600.0), above=0, maximum=MAX_TIMEOUT)),
        retries=int(number("retries", transport.get("retries", 3), integer=True, minimum=0,
                           maximum=MAX_RETRIES)),
        retry_interval=(None if transport.get("retry_interval") is None else
                        float(number("retry_interval", transport["retry_interval"], minimum=0,
                                     maximum=MAX_RETRY_INTERVAL))),
        limit=limit,
        concurrency=concurrency,
        work_dir=Path(merged.get("work_dir") or "outputs").expanduser(),
        use_cache=Path(merged["use_cache"]).expanduser() if merged.get("use_cache") else None,
        seed=int(number("--seed", merged.get("seed", 42), integer=True, minimum=0, maximum=MAX_SEED)),
        quiet=bool(merged.get("quiet", False)),
        fresh=bool(merged.get("fresh", False)),
        sandbox=merged.get("sandbox") or None,
        ignore_errors=bool(merged.get("ignore_errors", False)),
        skip_preflight=bool(merged.get("skip_preflight", False)),
        ray=_ray_address(merged.get("ray")),
        shard=parse_shard(merged.get("shard")),
        judge=judge,
    )


def _ray_address(value: Any) -> str | None:
    """--ray / `ray:`: absent or false = no Ray; true or "" = a local Ray; text = a cluster address."""
    if value is None or value is False:
        return None
    if value is True:
        return ""
    if not isinstance(value, str) or "\x00" in value:
        raise UsageError(f"ray must be true or a Ray cluster address (e.g. ray: 10.0.0.1:6379), "
                         f"got {_kind(value)}")
    if not _ray_installed():
        raise UsageError("--ray needs Ray, which is not installed: pip install 'evalpack[ray]' (on every node), "
                         "or run without --ray")
    return value.strip()


def _ray_installed() -> bool:
    """Whether `import ray` would find it (looked up, not imported: Ray loads only for a --ray run)."""
    import importlib.util

    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        return False


def _check_types(merged: dict) -> None:
    """The shape of each YAML value (flags are text already): one sentence for the first wrong one."""
    for key in BOOL_KEYS:
        if merged.get(key) is not None and not isinstance(merged[key], bool):
            raise UsageError(f"{key} must be true or false, got {_kind(merged[key])}")
    for key in TEXT_KEYS:
        value = merged.get(key)
        if value is None:
            continue
        if key in ("model", "model_id") and isinstance(value, (int, float)) and not isinstance(value, bool):
            merged[key] = value = str(value)  # a model named 7b reads as text
        if not isinstance(value, str):
            raise UsageError(f"{key} must be text, got {_kind(value)}")
        if "\x00" in value:
            raise UsageError(f"{key} must not contain a NUL character")
    if merged.get("sandbox") and merged["sandbox"] not in SANDBOXES:
        raise UsageError(f"sandbox must be one of {', '.join(sorted(SANDBOXES))}, got {merged['sandbox']!r}")
    for key in ("api_url", "datasets"):
        value = merged.get(key)
        if value is not None and not isinstance(value, (str, list)):
            raise UsageError(f"{key} must be text or a list of text, got {_kind(value)}")
