"""A run directory and everything in it.

    <work-dir>/<model>-<hash>/
        config.yaml       the run's settings, secrets redacted
        plans.json        per benchmark: its settings hash, resolved args, number of samples
        run.db            the run store: every request/reply and every scored result
        evalpack.log      warnings and errors of the run
        samples/<b>.jsonl a plain copy of the results, for people and other tools
        report.json/.md/.html

The settings hash (stored as "variant" in run.db, plans.json and the report) keys a
benchmark's results by everything that changes them: its resolved args, the generation
config and the model (and the judge, for a judged benchmark). Re-running the same command
resumes: same directory, same hashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import yaml

from evalpack.config import RunConfig, redact
from evalpack.errors import DataMissingError, UsageError
from evalpack.store import RunDirLock, RunStore

log = logging.getLogger("evalpack")

def settings_hash(benchmark: str, args: dict, config: RunConfig, judge: dict | None = None) -> str:
    """`judge`: the judge's identity (model, URL, generation, strategy, prompt version) when the
    benchmark asks one, so verdicts of another judge or prompt are never reused."""
    keyed = {"benchmark": benchmark, "args": jsonable(args), "generation": config.generation,
             "model": config.model}
    if judge:
        keyed["judge"] = judge
    return hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()[:12]


def jsonable(value: Any) -> Any:
    """`value` as it is written to disk: secrets redacted, everything JSON."""
    return json.loads(json.dumps(redact(value), default=str))


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock: RunDirLock | None = None
        self._log_handler: logging.Handler | None = None

    def lock(self) -> "RunDir":
        """One writer per run directory (an eval or a rescore); another is refused, naming the pid."""
        self._lock = RunDirLock(self.path).acquire()
        return self

    def release(self) -> None:
        if self._log_handler is not None:  # runs in one process (the Python API) log each to its own dir
            log.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @classmethod
    def for_run(cls, config: RunConfig) -> "RunDir":
        """The directory of this run (made, or found to resume), with config.yaml and the log."""
        if config.use_cache:
            path = config.use_cache
            if not (path / "run.db").is_file():
                raise DataMissingError(f"--use-cache {path}: no evalpack run there (run.db is missing)")
        else:
            run_id = config.run_id()
            if config.fresh:
                run_id += time.strftime("-%Y%m%d-%H%M%S")
            path = config.work_dir / run_id
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create the run directory {path} ({e.strerror or e}); "
                             f"give --work-dir a writable directory") from None
        run_dir = cls(path)
        run_dir.lock()  # a second eval here is refused, naming this pid
        try:
            (path / "config.yaml").write_text(yaml.safe_dump(config.redacted(), sort_keys=False,
                                                             allow_unicode=True), encoding="utf-8")
            handler = logging.FileHandler(path / "evalpack.log", encoding="utf-8")
        except OSError as e:
            run_dir.release()
            raise UsageError(f"cannot write in the run directory {path} ({e.strerror or e}); "
                             f"give --work-dir a writable directory") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        run_dir._log_handler = handler
        log.setLevel(logging.INFO)
        return run_dir

    @classmethod
    def existing(cls, path: Path) -> "RunDir":
        """A finished or interrupted run, to rescore or report on."""
        run_dir = cls(path)
        if not (run_dir.path / "plans.json").is_file():
            raise DataMissingError(f"{run_dir.path} is not an evalpack run directory (plans.json is missing)")
        return run_dir

    def open_store(self) -> RunStore:
        return RunStore(self.path / "run.db")

    def write_plans(self, plans: list) -> None:
        self.write_plan_info({p.bench.name: {"variant": p.settings_hash, "args": jsonable(p.args),
                                             "num_samples": p.total, **({"judge": p.judge} if p.judge else {})}
                              for p in plans})

    def write_plan_info(self, info: dict) -> None:
        """plans.json: benchmark -> {variant, args, num_samples[, judge]} (what read_plans gives back)."""
        (self.path / "plans.json").write_text(json.dumps(info, indent=2), encoding="utf-8")

    def read_plans(self) -> dict:
        plans_file = self.path / "plans.json"
        try:
            plans = json.loads(plans_file.read_text(encoding="utf-8"))
            if not isinstance(plans, dict) or not all(isinstance(p, dict) and isinstance(p.get("args"), dict)
                                                      and isinstance(p.get("variant"), str) for p in plans.values()):
                raise ValueError("not a mapping of benchmark -> {variant, args}")
        except (OSError, ValueError) as e:
            raise DataMissingError(f"{plans_file} is damaged ({e}); rescore needs the plans.json the run "
                                   f"wrote") from None
        return plans

    def read_config(self) -> dict:
        """config.yaml as written (only the model name is read back); {} when unreadable."""
        try:
            config = yaml.safe_load((self.path / "config.yaml").read_text(encoding="utf-8")) or {}
        except (OSError, ValueError, yaml.YAMLError):
            return {}
        return config if isinstance(config, dict) else {}

    def export_samples(self, store: RunStore, benchmark: str, rows: list[dict]) -> None:
        """samples/<benchmark>.jsonl: the results with their prompts and replies (what the viewer reads)."""
        from evalpack import samples

        samples.export(store, self.path, benchmark, rows)

    def write_report(self, report: dict) -> str:
        """report.json, .md and .html; returns the markdown table."""
        from evalpack import report as report_mod

        return report_mod.write(self.path, report)
