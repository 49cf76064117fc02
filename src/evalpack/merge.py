"""`evalpack merge RUN_DIR... [--out DIR]`: the shards of one run (`--shard I/N`) as one run.

The inputs must be parts of the same run: the same benchmarks under the same settings hashes,
the same --limit and data, shards of the same N, every part present and finished (or
--allow-partial). Their stored calls and results are copied into a new run directory (a
sample stored twice counts once, a success beating an error), and its report is written by
the same code as a rescore's, so it equals the report of one unsharded run of the same
command except for timing and place (docs/distributed.md lists those fields). The inputs are
only read. Merging a run with itself, or a merged run with its own shards, changes nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from evalpack.errors import UsageError
from evalpack.shard import parse as parse_shard

PROVENANCE = "merge.json"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "merge", help="join the shards of a run (--shard I/N) into one run directory",
        description="Join the run directories of `evalpack eval --shard I/N` (all N of them) into one run "
                    "directory whose report equals a single run's. The inputs are checked to be shards of "
                    "the same run and are never modified.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", help="the run directory to write (new or empty; default: beside the first input, "
                                 "its name without -shardIofN)")
    p.add_argument("--allow-partial", action="store_true",
                   help="merge even when shards are missing or unfinished (the report says which)")
    p.add_argument("--quiet", action="store_true", help="print only the run directory")
    p.add_argument("--ignore-errors", action="store_true",
                   help="exit 0 even when merged samples ended in an error (as eval's flag)")
    p.set_defaults(func=cmd_merge)


def cmd_merge(ns: argparse.Namespace) -> int:
    from evalpack.cli import _scrub, check_errors

    result = merge([Path(d) for d in ns.run_dirs], Path(ns.out) if ns.out else None,
                   allow_partial=ns.allow_partial)
    if not ns.quiet:
        from evalpack import report

        print(_scrub(report.summary(result["report"])))
        print(f"merged {result['provenance']['summary']}")
        print(f"report: {result['run_dir'].resolve() / 'report.html'}")
    print(f"run directory: {result['run_dir'].resolve()}")
    # the merged run is the run: samples that failed in every shard fail it, as they fail eval
    check_errors(result["report"], result["run_dir"], ns.ignore_errors)
    return 0


@dataclass
class Source:
    path: Path
    config: dict  # config.yaml (secrets redacted when it was written)
    plans: dict  # plans.json
    report: dict  # report.json, {} while unfinished
    covers: set[int] | None  # the shard indexes it holds; None = every sample (an unsharded run)
    count: int | None  # N of its shards

    @property
    def label(self) -> str:
        if self.covers is None:
            return f"{self.path} (unsharded)"
        return f"{self.path} (shard {'+'.join(map(str, sorted(self.covers)))}/{self.count})"


def read_source(path: Path) -> Source:
    from evalpack.run_dir import RunDir
    from evalpack.store import RunDirLock

    run_dir = RunDir.existing(path)  # plans.json or a sentence
    if not (path / "run.db").is_file():
        raise UsageError(f"{path} has no run.db: it is not a run directory evalpack can merge")
    pid = RunDirLock.holder(path)
    if pid:
        raise UsageError(f"{path} is being written by another evalpack (pid {pid}); merge it once that run "
                         f"has finished")
    config = run_dir.read_config()
    report = _read_json(path / "report.json")
    merged = _read_json(path / PROVENANCE)  # an earlier merge's output covers what it joined
    if merged.get("count"):
        covers, count = set(merged.get("shards") or []), int(merged["count"])
        if merged.get("complete"):
            covers, count = None, None
    else:
        try:
            shard = parse_shard(config.get("shard"))
        except UsageError:
            raise UsageError(f"{path}/config.yaml has a damaged shard entry ({config.get('shard')!r})") from None
        covers, count = ({shard.index}, shard.count) if shard else (None, None)
    return Source(path, config, run_dir.read_plans(), report, covers, count)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --- the checks: parts of one run, all there, all finished -----------------------------------

def check_same_run(sources: list[Source]) -> None:
    """Settings hashes (and what is outside them: --limit, the data) agree, or one sentence
    naming the two directories and what differs."""
    first = sources[0]
    for other in sources[1:]:
        differences = _differences(first, other)
        if differences:
            raise UsageError(f"cannot merge {first.path} and {other.path}: they are not parts of the same run "
                             f"({'; '.join(differences)}); merge only the shards of one command")


def _differences(a: Source, b: Source) -> list[str]:
    out = []
    if set(a.plans) != set(b.plans):
        out.append(f"benchmarks {', '.join(a.plans)} vs {', '.join(b.plans)}")
    for key in ("model",):
        if a.config.get(key) != b.config.get(key):
            out.append(f"{key} {a.config.get(key)!r} vs {b.config.get(key)!r}")
    if a.config.get("generation") != b.config.get("generation"):
        out.append(f"generation config {json.dumps(a.config.get('generation'), sort_keys=True)} vs "
                   f"{json.dumps(b.config.get('generation'), sort_keys=True)}")
    if a.config.get("limit") != b.config.get("limit"):  # not in the settings hash: it picks the samples
        out.append(f"--limit {a.config.get('limit')} vs {b.config.get('limit')}")
    for name in a.plans:
        if name not in b.plans or a.plans[name]["variant"] == b.plans[name]["variant"]:
            continue
        args_a, args_b = a.plans[name]["args"], b.plans[name]["args"]
        keys = [k for k in sorted(set(args_a) | set(args_b)) if args_a.get(k) != args_b.get(k)]
        what = ", ".join(f"{k} {json.dumps(args_a.get(k))} vs {json.dumps(args_b.get(k))}" for k in keys)
        out.append(f"{name}: settings hash {a.plans[name]['variant']} vs {b.plans[name]['variant']}"
                   + (f" (dataset args {what})" if what else ""))
    version_a, version_b = a.report.get("evalpack_version"), b.report.get("evalpack_version")
    if version_a and version_b and version_a != version_b:  # prompts and scorers may differ between them
        out.append(f"evalpack version {version_a} vs {version_b}")
    data_a = (a.report.get("meta") or {}).get("datasets") or {}
    data_b = (b.report.get("meta") or {}).get("datasets") or {}
    for name in a.plans:
        da, db = (data_a.get(name) or {}).get("digest"), (data_b.get(name) or {}).get("digest")
        if da and db and da != db:
            out.append(f"{name}: dataset files differ (sha256 digest {da[:12]} vs {db[:12]})")
    return out


def coverage(sources: list[Source]) -> tuple[int | None, set[int], list[int]]:
    """(N, shards present, shards missing); N is None when an input is a whole run."""
    if any(s.covers is None for s in sources):
        return None, set(), []
    counts = {s.count for s in sources}
    if len(counts) > 1:
        raise UsageError("cannot merge shards of different splits: "
                         + ", ".join(s.label for s in sources) + "; merge the N shards of one --shard I/N split")
    count = counts.pop()
    present = set().union(*(s.covers for s in sources))
    return count, present, [i for i in range(1, count + 1) if i not in present]


def stored_counts(path: Path, plans: dict) -> dict[str, int]:
    """benchmark -> results stored under its plan's settings hash (errors included), read-only."""
    from evalpack.store import open_read_only

    db = open_read_only(path)
    try:
        return {name: db.execute("SELECT COUNT(*) FROM results WHERE benchmark=? AND variant=?",
                                 (name, info["variant"])).fetchone()[0] for name, info in plans.items()}
    except sqlite3.Error as e:
        raise UsageError(f"{path} cannot be read ({e}); it is damaged or not a run store") from None
    finally:
        db.close()


def check_finished(source: Source, allow_partial: bool) -> list[str]:
    """Sentences about an unfinished input (an error unless --allow-partial)."""
    problems = []
    for name, stored in stored_counts(source.path / "run.db", source.plans).items():
        planned = int(source.plans[name].get("num_samples") or 0)
        if stored > planned:
            raise UsageError(f"{source.path} holds {stored} {name} results but its last run planned {planned} "
                             f"(an earlier run with another --limit wrote the same directory); run that shard "
                             f"again with --fresh and merge the new directory")
        if stored < planned:
            problems.append(f"{source.label}: {name} has {stored} of {planned} samples stored")
    if problems and not allow_partial:
        raise UsageError(f"{'; '.join(problems)}: that shard is unfinished; run its command again (it resumes "
                         f"where it stopped), then merge, or pass --allow-partial")
    return problems


# --- the merge ----------------------------------------------------------------------------

def default_out(first: Path) -> Path:
    name = first.resolve().name
    base = name.rsplit("-shard", 1)[0] if "-shard" in name else f"{name}-merged"
    return first.resolve().parent / base


def merge(run_dirs: list[Path], out: Path | None = None, *, allow_partial: bool = False) -> dict:
    from evalpack.run_dir import RunDir

    if not run_dirs:
        raise UsageError("merge needs the run directories of the shards: evalpack merge RUN_DIR... [--out DIR]")
    sources = [read_source(Path(p)) for p in run_dirs]
    check_same_run(sources)
    count, present, missing = coverage(sources)
    if missing and not allow_partial:
        raise UsageError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} of {count} "
                         f"{'are' if len(missing) > 1 else 'is'} missing (given: "
                         f"{', '.join(s.label for s in sources)}); run the missing ones (--shard I/{count}) and "
                         f"merge all {count}, or pass --allow-partial")
    unfinished = [p for s in sources for p in check_finished(s, allow_partial)]

    out = Path(out) if out else default_out(sources[0].path)
    inputs = {s.path.resolve() for s in sources}
    if out.resolve() in inputs or any(d in out.resolve().parents for d in inputs):
        raise UsageError(f"--out {out} is one of the inputs or inside one; merge writes a new run directory and "
                         f"never changes its inputs: choose another --out")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not empty; give --out a new or empty directory (or remove it)")
    # written beside, then renamed into place: a merge stopped half-way leaves no half run directory
    out = out.resolve()
    building = out.parent / f".{out.name}.merging-{os.getpid()}"
    try:
        building.mkdir(parents=True)
    except OSError as e:
        raise UsageError(f"cannot create {building} ({e.strerror or e}); give --out a writable directory") from None
    run_dir = RunDir(building).lock()
    try:
        result = _write(run_dir, out, sources, count, present, missing, unfinished)
    except BaseException:
        run_dir.release()
        shutil.rmtree(building, ignore_errors=True)
        raise
    run_dir.release()
    try:
        os.rename(building, out)  # replaces an empty directory, never a filled one
    except OSError as e:
        shutil.rmtree(building, ignore_errors=True)
        raise UsageError(f"cannot put the merged run at {out} ({e.strerror or e}); give --out a new or empty "
                         f"directory") from None
    return result


def _write(run_dir, final: Path, sources: list[Source], count, present: set[int], missing: list[int],
           unfinished: list[str]) -> dict:
    """Everything of the merged run into `run_dir`, which becomes `final` once complete."""
    from evalpack.run_dir import RunDir
    from evalpack import runner
    from evalpack.perf.stats import eval_calls

    # shard order, so the merged store reads like one run's (the report does not depend on it)
    ordered = sorted(sources, key=lambda s: (s.covers is not None, min(s.covers or {0})))
    complete = not missing and not unfinished
    first = ordered[0]
    config = dict(first.config)
    config["shard"] = None
    config["api_urls"] = list(dict.fromkeys(u for s in ordered for u in s.config.get("api_urls") or []))
    import yaml  # here: `evalpack --help` imports this module for its parser

    (run_dir.path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                              encoding="utf-8")
    plans = {name: {**info, "num_samples": _num_samples(ordered, name)} for name, info in first.plans.items()}
    run_dir.write_plan_info(plans)

    store = run_dir.open_store()
    copied = []
    try:
        keep = {name: info["variant"] for name, info in plans.items()}
        for s in ordered:
            copied.append({"run_dir": str(s.path.resolve()), "label": s.label, **store.absorb(s.path / "run.db", keep)})
        sections = []
        for name, info in plans.items():
            section = runner.section_from_store(store, run_dir, name, info)
            serving = eval_calls(store.call_timings(name))  # the span of the calls: timing, not score
            if serving:
                section["serving"] = serving
            sections.append(section)
    finally:
        store.close()

    report = runner.envelope(config.get("model"), RunDir(final), sections)
    report["meta"] = _meta(ordered, count, present, complete)
    text = run_dir.write_report(report)
    read = sum(c["results"] for c in copied)
    kept = sum(stored_counts(run_dir.path / "run.db", plans).values())
    provenance = {
        "sources": copied, "count": count, "shards": sorted(present), "missing": missing,
        "unfinished": unfinished, "complete": complete,
        "results_read": read, "results_kept": kept, "duplicates_dropped": read - kept,
        "summary": (f"{len(sources)} run director{'ies' if len(sources) > 1 else 'y'} "
                    + (f"(shards {'+'.join(map(str, sorted(present)))} of {count})" if count else "(whole runs)")
                    + (f", missing {', '.join(map(str, missing))}" if missing else "")
                    + f": {read} results read, {read - kept} duplicates dropped, {kept} kept"),
    }
    (run_dir.path / PROVENANCE).write_text(json.dumps(provenance, indent=2), encoding="utf-8")
    return {"report": report, "markdown": text, "run_dir": final, "provenance": provenance}


def _num_samples(sources: list[Source], name: str) -> int:
    """The (sample, repeat) pairs of the merged run: a whole input's, or one per shard summed."""
    whole = next((s for s in sources if s.covers is None), None)
    if whole is not None:
        return int(whole.plans[name].get("num_samples") or 0)
    seen: set[int] = set()
    total = 0
    for s in sources:
        if not s.covers & seen:
            seen |= s.covers
            total += int(s.plans[name].get("num_samples") or 0)
    return total


def _meta(sources: list[Source], count, present: set[int], complete: bool) -> dict:
    """The first input's run metadata, with what differs per shard joined: the endpoints and
    models served, the wall time (first start to last end) and the time per dataset (summed)."""
    metas = [s.report.get("meta") for s in sources if isinstance(s.report.get("meta"), dict)]
    if not metas:
        return {}
    meta = copy.deepcopy(metas[0])
    shard = meta.pop("shard", None)
    meta["command"] = _without_shard(meta.get("command"))
    meta["api_urls"] = list(dict.fromkeys(u for m in metas for u in m.get("api_urls") or []))
    served: dict = {}
    for m in metas:
        served.update(m.get("served_models") or {})
    meta["served_models"] = served or None
    starts = [m["started"] for m in metas if isinstance(m.get("started"), (int, float))]
    ends = [m["started"] + m["wall_seconds"] for m in metas
            if isinstance(m.get("started"), (int, float)) and isinstance(m.get("wall_seconds"), (int, float))]
    if starts and ends:
        meta["started"], meta["wall_seconds"] = min(starts), round(max(ends) - min(starts), 3)
    seconds: dict[str, float] = {}
    for m in metas:
        for k, v in (m.get("dataset_seconds") or {}).items():
            seconds[k] = round(seconds.get(k, 0.0) + float(v), 3)
    meta["dataset_seconds"] = seconds
    if not complete and count:  # the report says it is partial (report.notes)
        whole = (shard or {}).get("unsharded_num_samples") or {}
        meta["shard"] = {"index": "+".join(map(str, sorted(present))), "count": count,
                         "unsharded_num_samples": whole}
    return meta


def _without_shard(command):
    """The command as an unsharded run would record it (the shard's own `--shard I/N` dropped)."""
    if not isinstance(command, str):
        return command
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
            continue
        if w == "--shard":
            skip = True
            continue
        if w.startswith("--shard="):
            continue
        out.append(w)
    return shlex.join(out)
