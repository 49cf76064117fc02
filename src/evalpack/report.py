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
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write(run_dir: Path, report: dict) -> str:
    (run_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    text = markdown(report)
    (run_dir / "report.md").write_text(text, encoding="utf-8")
    return text
