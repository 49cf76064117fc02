"""report.json and report.md for a run, and the table printed at its end."""

from __future__ import annotations

import json
from pathlib import Path


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def markdown(report: dict) -> str:
    lines = ["| Model | Dataset | Metric | Subset | Num | Score |", "|---|---|---|---|---|---|"]
    model = report["model"]
    for ds in report["datasets"]:
        name, metric = ds["dataset"], ds["metric"]
        lines.append(f"| {model} | {name} | {metric} | OVERALL | {ds['num_scored']} | {_fmt(ds['score'])} |")
        for key, value in (ds.get("metrics") or {}).items():
            if key != metric and isinstance(value, (int, float)):
                lines.append(f"| {model} | {name} | {key} | OVERALL | {ds['num_scored']} | {_fmt(value)} |")
        for gname, rows in (ds.get("groups") or {}).items():
            for row in rows:
                lines.append(f"| {model} | {name} | {metric} | {gname}: {row['name']} | {row['num']} "
                             f"| {_fmt(row['score'])} |")
        if len(ds.get("subsets") or []) > 1:
            for row in ds["subsets"]:
                lines.append(f"| {model} | {name} | {metric} | {row['name']} | {row['num']} | {_fmt(row['score'])} |")
    notes = []
    for ds in report["datasets"]:
        if ds.get("num_errors"):
            ids = ", ".join(ds["error_ids"][:10]) + (" ..." if len(ds["error_ids"]) > 10 else "")
            notes.append(f"- {ds['dataset']}: {ds['num_errors']} of {ds['num_samples']} samples failed "
                         f"after all retries and are not scored: {ids}")
        if ds.get("num_unparsed"):
            notes.append(f"- {ds['dataset']}: {ds['num_unparsed']} replies had no readable answer "
                         f"(scored 0)")
        notes += [f"- {ds['dataset']}: {note}" for note in ds.get("notes") or []]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write(run_dir: Path, report: dict) -> str:
    """report.json, report.md and report.html (samples and transcripts, from run.db)."""
    from evalpack import report_html
    from evalpack.store import RunStore

    (run_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    text = markdown(report)
    (run_dir / "report.md").write_text(text, encoding="utf-8")
    if (run_dir / "run.db").is_file():
        store = RunStore(run_dir / "run.db")
        try:
            report_html.write(run_dir, report, store)
        finally:
            store.close()
    return text


def load(run_dir: Path) -> dict:
    from evalpack.errors import UsageError

    path = Path(run_dir) / "report.json"
    if not path.is_file():
        raise UsageError(f"{run_dir} has no report.json: is it an evalpack run directory of a finished run?")
    return json.loads(path.read_text(encoding="utf-8"))


def compare(reports: list[dict], names: list[str]) -> str:
    """One row per (dataset, metric, subset), one column per run; the last column is the change
    from the first run to the last."""
    keys: list[tuple[str, str, str]] = []
    values: list[dict[tuple[str, str, str], float | None]] = []
    for rep in reports:
        vals: dict[tuple[str, str, str], float | None] = {}
        for ds in rep["datasets"]:
            rows = [(ds["metric"], "OVERALL", ds["score"])]
            rows += [(k, "OVERALL", v) for k, v in (ds.get("metrics") or {}).items()
                     if k != ds["metric"] and isinstance(v, (int, float))]
            rows += [(ds["metric"], f"{g}: {r['name']}", r["score"]) for g, rs in (ds.get("groups") or {}).items()
                     for r in rs]
            rows += [(ds["metric"], r["name"], r["score"]) for r in ds.get("subsets") or []
                     if len(ds.get("subsets") or []) > 1]
            for metric, subset, value in rows:
                key = (ds["dataset"], metric, subset)
                if key not in vals:
                    vals[key] = value
                    if key not in keys:
                        keys.append(key)
        values.append(vals)
    head = "| Dataset | Metric | Subset | " + " | ".join(names) + (" | Δ |" if len(names) > 1 else " |")
    lines = [head, "|" + "---|" * (3 + len(names) + (len(names) > 1))]
    for key in keys:
        cells = [values[i].get(key) for i in range(len(reports))]
        delta = ""
        if len(names) > 1:
            first, last = cells[0], cells[-1]
            delta = f" {last - first:+.4f} |" if first is not None and last is not None else " - |"
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(_fmt(c) for c in cells) + " |" + delta)
    return "\n".join(lines) + "\n"
