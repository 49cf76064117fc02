"""Sweeps: one `--config` file, several runs (models, endpoints, settings), then one compare.

    datasets: [mmlu, gsm8k]          # the keys every run shares (any `evalpack eval` key)
    limit: 100
    sweep:                           # one entry per run: the keys that differ
      - model: qwen2.5-7b
        api_url: http://node1:8000/v1
      - model: llama-3.1-8b
        api_url: http://node2:8000/v1
        name: llama              # optional: the run goes under <work-dir>/llama/

Each entry is an independent run, in its own run directory, made as `evalpack eval` makes
one (resume, report, rescore unchanged), one after the other; with --ray (or `ray:`) each
run spreads its samples over the cluster. Then `compare` of every finished run against the
first, printed and written to <work-dir>/<file>-compare.html (+ .json). A flag on the command
line applies to every run, and may not name a key an entry sets.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Callable

from evalpack.config import CONFIG_KEYS, RunConfig, build_config, load_yaml
from evalpack.errors import EvalpackError, UsageError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def is_sweep(path: str) -> bool:
    return load_yaml(path).get("sweep") is not None


def configs(flags: dict, path: str) -> list[tuple[RunConfig, str | None]]:
    """(RunConfig, the entry's name or None) per entry, all checked before any run starts."""
    data = load_yaml(path)
    entries = data.pop("sweep")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise UsageError(f"--config {path}: sweep must be a list of mappings, one per run, e.g. "
                         f"sweep: [{{model: a, api_url: ...}}, {{model: b, api_url: ...}}]")
    given = {k for k, v in flags.items() if v is not None}
    out, where = [], {}
    for number, entry in enumerate(entries, 1):
        entry = {str(k): v for k, v in entry.items()}
        label = f"--config {path}: sweep entry {number}"
        unknown = sorted(set(entry) - CONFIG_KEYS - {"name"} | ({"sweep"} & set(entry)))
        if unknown:
            raise UsageError(f"{label}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                             f"an entry takes the keys of `evalpack eval` (model, api_url, ...) and name")
        clash = sorted(given & set(entry))
        if clash:
            flag = ", ".join("--" + k.replace("_", "-") for k in clash)
            raise UsageError(f"{label} sets {', '.join(clash)}, and the command line gives {flag} for every run; "
                             f"drop it from the command line or from the entries")
        name = entry.pop("name", None)
        if name is not None and not (isinstance(name, str) and NAME.match(name)):
            raise UsageError(f"{label}: name must be a short folder name (letters, digits, . _ -), got {name!r}")
        try:
            config = build_config(flags, values={**data, **entry})
        except UsageError as e:
            raise UsageError(f"{label}: {e}") from None
        if name:
            config.work_dir = config.work_dir / name
        run_dir = config.use_cache or config.work_dir / config.run_id()
        if run_dir in where:
            raise UsageError(f"{label} would share the run directory {run_dir} with entry {where[run_dir]} (same "
                             f"model and settings): give each a distinct `name:` so each run has its own")
        where[run_dir] = number
        out.append((config, name))
    return out


def run(flags: dict, path: str, show: Callable[[dict], None], check_errors: Callable[..., None]) -> int:
    """Every run of the sweep, then the compare; the exit code of the first run that failed, else 0.
    `show` prints a run's result and `check_errors` raises for errored samples, as `evalpack eval`."""
    from evalpack import compare
    from evalpack.runner import evaluate
    from evalpack.scrub import scrub as _scrub

    runs = configs(flags, path)
    finished: list[Path] = []
    names: list[str | None] = []  # of the finished runs: compare labels them by their entry's name
    failures: list[tuple[int, str, EvalpackError]] = []
    for number, (config, name) in enumerate(runs, 1):
        print(f"sweep run {number}/{len(runs)}: {config.model} at {', '.join(_urls(config))}", flush=True)
        try:
            result = evaluate(config)
        except EvalpackError as e:  # an endpoint down must not cost the other runs
            print(_scrub(f"evalpack: sweep run {number} ({config.model}) failed: {e}"), file=sys.stderr)
            failures.append((number, config.model, e))
            continue
        show(result)
        finished.append(Path(result["run_dir"]))
        names.append(name)
        try:
            check_errors(result["report"], result["run_dir"], config.ignore_errors)
        except EvalpackError as e:  # scored, with errors: still compared
            print(_scrub(f"evalpack: sweep run {number} ({config.model}): {e}"), file=sys.stderr)
            failures.append((number, config.model, e))
    if len(finished) >= 2:
        base = Path(flags.get("work_dir") or load_yaml(path).get("work_dir") or "outputs").expanduser()
        out = (base / f"{Path(path).stem}-compare.html").resolve()
        result = compare.compare(finished, names)
        compare.write(result, out)
        print(_scrub(compare.terminal(result)), end="")
        print(f"compare: {out}")
    elif len(runs) >= 2:
        print("evalpack: fewer than two runs of the sweep finished: nothing to compare", file=sys.stderr)
    if failures:
        listed = ", ".join(f"{n} ({model})" for n, model, _ in failures)
        print(f"evalpack: sweep runs {listed} did not finish cleanly; run the same command again to resume them",
              file=sys.stderr)
        return failures[0][2].exit_code
    return 0


def _urls(config: RunConfig) -> list[str]:
    from evalpack.scrub import redact_url

    return [redact_url(u) for u in config.api_urls]
