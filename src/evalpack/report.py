"""report.json, report.md and report.html of a run, and the summary printed at its end.

`rows()` is the one table of a report: markdown, the HTML page, compare and the terminal
summary all read it (report_html never parses markdown back).
"""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _ci(row: dict) -> str:
    if row.get("ci_low") is None:
        return "-"
    return f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"


def rows(report: dict) -> list[dict]:
    """Every score of a report, one dict per (dataset, metric, subset): kind is overall, metric,
    group or subset; num counts what the number averages (samples, or tasks for pass^k)."""
    out = []
    for ds in report["datasets"]:
        name, metric = ds["dataset"], ds["metric"]
        intervals = ds.get("intervals") or {}

        def add(kind: str, metric_name: str, subset: str, num, score, iv: dict, group: str = "") -> None:
            out.append({"dataset": name, "metric": metric_name, "subset": subset, "kind": kind, "group": group,
                        "num": num, "score": score, "stderr": iv.get("stderr"), "ci_low": iv.get("ci_low"),
                        "ci_high": iv.get("ci_high"), "ci_method": iv.get("ci_method")})

        add("overall", metric, "OVERALL", ds["num_scored"], ds["score"], ds)
        for key, value in (ds.get("metrics") or {}).items():
            if key != metric and isinstance(value, (int, float)) and not isinstance(value, bool):
                iv = intervals.get(key) or {}
                add("metric", key, "OVERALL", iv.get("n", ds["num_scored"]), value, iv)
        for gname, grows in (ds.get("groups") or {}).items():
            for row in grows:
                add("group", metric, f"{gname}: {row['name']}", row["num"], row["score"], row, gname)
        if len(ds.get("subsets") or []) > 1:
            for row in ds["subsets"]:
                add("subset", metric, row["name"], row["num"], row["score"], row)
    return out


def notes(report: dict) -> list[str]:
    from evalpack.shard import report_note

    out = [report_note(report)] if report_note(report) else []
    for ds in report["datasets"]:
        if ds.get("num_errors"):
            ids = ", ".join(ds["error_ids"][:10]) + (" ..." if len(ds["error_ids"]) > 10 else "")
            out.append(f"{ds['dataset']}: {ds['num_errors']} of {ds['num_samples']} samples failed "
                       f"after all retries and are not scored: {ids}")
        if ds.get("num_unparsed"):
            out.append(f"{ds['dataset']}: {ds['num_unparsed']} replies had no readable answer (scored 0)")
        out += [f"{ds['dataset']}: {note}" for note in ds.get("notes") or []]
    return out


def markdown(report: dict) -> str:
    lines = ["| Model | Dataset | Metric | Subset | Num | Score | ± SE | 95% CI |", "|---|---|---|---|---|---|---|---|"]
    model = report["model"]
    for r in rows(report):
        lines.append(f"| {model} | {r['dataset']} | {r['metric']} | {r['subset']} | {r['num']} | {_fmt(r['score'])} "
                     f"| {_fmt(r['stderr'])} | {_ci(r)} |")
    extra = notes(report)
    if extra:
        lines += ["", *(f"- {n}" for n in extra)]
    lines += ["", "Intervals: 95%, score ± 1.96 SE (clustered by question when repeated; bootstrap where the "
                  "score is not a mean); see docs/statistics.md."]
    from evalpack.perf.output import serving_lines  # each dataset's `serving`: latency, tokens/s

    lines += serving_lines(report)
    return "\n".join(lines) + "\n"


def summary(report: dict) -> str:
    """The end of a run on the terminal: one line per dataset, overall scores only."""
    head = "| Model | Dataset | Metric | Score ± 95% CI | n | errors | unparsed | time |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    timing = (report.get("meta") or {}).get("dataset_seconds") or {}
    for ds in report["datasets"]:
        if ds["score"] is None:
            score = "-"
        elif ds.get("ci_low") is None:
            score = f"{ds['score']:.4f}"
        else:
            score = f"{ds['score']:.4f} ± {1.959963984540054 * ds['stderr']:.4f}"
        secs = timing.get(ds["dataset"])
        lines.append(f"| {report['model']} | {ds['dataset']} | {ds['metric']} | {score} | {ds['num_scored']} "
                     f"| {ds.get('num_errors', 0)} | {ds.get('num_unparsed', 0)} "
                     f"| {'-' if secs is None else _duration(secs)} |")
    extra = notes(report)
    if extra:
        lines += [f"- {n}" for n in extra]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


def write(run_dir: Path, report: dict) -> str:
    """report.json, report.md and report.html, from the report and samples/*.jsonl. Returns
    the markdown. The request statistics (tokens, latency) are recomputed from the exports,
    so `evalpack report` and rescore give the same numbers; the rest of the run metadata, and each
    dataset's serving stats (how the calls went, not how they scored), are kept from the report.json
    a rescore replaces."""
    from evalpack import report_html, run_meta, samples

    run_dir = Path(run_dir)
    exported = {ds["dataset"]: samples.read(run_dir, ds["dataset"]) for ds in report.get("datasets", [])}
    previous = _previous_report(run_dir)
    old_meta = previous.get("meta") if isinstance(previous.get("meta"), dict) else {}
    served = {d.get("dataset"): d["serving"] for d in previous.get("datasets") or []
              if isinstance(d, dict) and d.get("serving")}
    for section in report.get("datasets", []):
        if "serving" not in section and section.get("dataset") in served:
            section["serving"] = served[section["dataset"]]
    meta = report.setdefault("meta", dict(old_meta))
    if not meta.get("served_models") and old_meta.get("served_models"):
        meta["served_models"] = old_meta["served_models"]  # a resumed run that sent nothing asked no one
    meta["requests"] = run_meta.call_stats([c for recs in exported.values() for r in recs for c in r.get("calls") or []])
    (run_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    text = markdown(report)
    (run_dir / "report.md").write_text(text, encoding="utf-8")
    report_html.write(run_dir, report, rows(report), exported)
    return text


def _previous_report(run_dir: Path) -> dict:
    try:
        previous = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}  # no report yet, or a damaged one: nothing to carry over
    return previous if isinstance(previous, dict) else {}


def load(run_dir: Path) -> dict:
    from evalpack.errors import UsageError

    path = Path(run_dir) / "report.json"
    if not path.is_file():
        raise UsageError(f"{run_dir} has no report.json: is it an evalpack run directory of a finished run?")
    return json.loads(path.read_text(encoding="utf-8"))
