"""`evalpack compare A B [C ...]`: each run against the first, sample by sample.

Samples are aligned by (dataset, sample id); a question asked several times (repeats)
counts once, with its mean score. Per dataset and subset: the questions both runs scored,
each run's mean on them, the difference B - A with its 95% interval, a paired test
(McNemar exact when every score is 0/1, else a sign-flip permutation test) and the flipped
questions each way. Settings that make a comparison unfair (limit, seed, prompts,
generation config, data, evalpack version) become loud warnings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from evalpack import report as report_mod, samples as sample_export, stats
from evalpack.report_html import natural_key


def _label(report: dict, run_dir: Path) -> str:
    created = str(report.get("created") or "")
    when = created[:16].replace("T", " ") if created else run_dir.name
    return f"{report.get('model')} · {when}"


def load_run(run_dir: Path) -> dict:
    rep = report_mod.load(run_dir)
    return {"dir": Path(run_dir), "report": rep, "label": _label(rep, Path(run_dir)),
            "samples": {ds["dataset"]: sample_export.read(run_dir, ds["dataset"]) for ds in rep["datasets"]}}


def _per_question(records: list[dict]) -> dict[str, dict]:
    """sample id -> mean score over repeats (errors left out), subset and one record to show."""
    out: dict[str, dict] = {}
    for r in records:
        entry = out.setdefault(r["sample_id"], {"scores": [], "subset": r.get("subset"), "record": r,
                                                "prompt": _digest(r.get("prompt"))})
        if r.get("error") is None and r.get("score") is not None:
            entry["scores"].append(float(r["score"]))
    for entry in out.values():
        entry["score"] = sum(entry["scores"]) / len(entry["scores"]) if entry["scores"] else None
    return out


def _digest(value) -> str | None:
    if value is None:
        return None
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _paired(ids: list[str], qa: dict, qb: dict) -> dict:
    a = [qa[i]["score"] for i in ids]
    b = [qb[i]["score"] for i in ids]
    out = stats.paired_difference(a, b)
    out["score_a"] = sum(a) / len(a) if a else None
    out["score_b"] = sum(b) / len(b) if b else None
    out["gained"] = sum(1 for x, y in zip(a, b) if y > x)
    out["lost"] = sum(1 for x, y in zip(a, b) if y < x)
    return out


def _compare_dataset(name: str, run_a: dict, run_b: dict) -> tuple[dict, list[dict]]:
    qa, qb = _per_question(run_a["samples"].get(name, [])), _per_question(run_b["samples"].get(name, []))
    scored = [i for i in qa if i in qb and qa[i]["score"] is not None and qb[i]["score"] is not None]
    scored.sort(key=natural_key)
    section_a = next(d for d in run_a["report"]["datasets"] if d["dataset"] == name)
    section_b = next(d for d in run_b["report"]["datasets"] if d["dataset"] == name)
    result = {"dataset": name, "metric": "mean sample score", "reported_metric": section_a.get("metric"),
              "reported_a": section_a.get("score"), "reported_a_ci": [section_a.get("ci_low"), section_a.get("ci_high")],
              "reported_b": section_b.get("score"), "reported_b_ci": [section_b.get("ci_low"), section_b.get("ci_high")],
              "n_a": len(qa), "n_b": len(qb), "n_common": len(scored),
              "only_a": sum(1 for i in qa if i not in qb), "only_b": sum(1 for i in qb if i not in qa),
              "prompts_differ": sum(1 for i in qa if i in qb and qa[i]["prompt"] and qb[i]["prompt"]
                                    and qa[i]["prompt"] != qb[i]["prompt"]),
              **_paired(scored, qa, qb)}
    subsets = sorted({qa[i]["subset"] for i in scored}, key=str)
    result["subsets"] = [{"subset": s, **_paired([i for i in scored if qa[i]["subset"] == s], qa, qb)}
                         for s in subsets] if len(subsets) > 1 else []
    flips = [{"id": i, "dir": "gained" if qb[i]["score"] > qa[i]["score"] else "lost",
              "score_a": qa[i]["score"], "score_b": qb[i]["score"], "subset": qa[i]["subset"]}
             for i in scored if qb[i]["score"] != qa[i]["score"]]
    result["flipped_ids"] = {"gained": [f["id"] for f in flips if f["dir"] == "gained"],
                             "lost": [f["id"] for f in flips if f["dir"] == "lost"]}
    pairs = [{**f, "a": qa[f["id"]]["record"], "b": qb[f["id"]]["record"]} for f in flips]
    return result, pairs


def warnings_for(run_a: dict, run_b: dict, datasets: list[dict]) -> list[str]:
    """Every setting that differs between the runs, as a sentence."""
    la, lb = run_a["label"], run_b["label"]
    ra, rb = run_a["report"], run_b["report"]
    ma, mb = ra.get("meta") or {}, rb.get("meta") or {}
    out = []
    for run, meta in ((run_a, ma), (run_b, mb)):
        if "seed" not in meta:
            out.append(f"{run['label']} ({run['dir']}) has no run metadata (made before evalpack recorded it): "
                       f"its limit, seed, generation config and data hashes cannot be checked")
    if ra.get("evalpack_version") != rb.get("evalpack_version"):
        out.append(f"evalpack version differs: {ra.get('evalpack_version')} ({la}) vs {rb.get('evalpack_version')} ({lb})")
    for key, what in (("limit", "--limit"), ("seed", "--seed"), ("generation", "generation config")):
        if key in ma and key in mb and ma[key] != mb[key]:
            out.append(f"{what} differs: {json.dumps(ma[key])} ({la}) vs {json.dumps(mb[key])} ({lb})")
    sections_a = {d["dataset"]: d for d in ra["datasets"]}
    sections_b = {d["dataset"]: d for d in rb["datasets"]}
    for name in sections_a:
        if name not in sections_b:
            continue
        args_a, args_b = sections_a[name].get("args") or {}, sections_b[name].get("args") or {}
        for key in sorted(set(args_a) | set(args_b)):
            if key == "seed" and ma.get("seed") != mb.get("seed") and "seed" in ma:
                continue  # said once above
            if args_a.get(key) != args_b.get(key):
                kind = "prompt" if key in ("prompt_template", "system_prompt", "few_shot_num") else "dataset arg"
                out.append(f"{name}: {kind} {key} differs: {json.dumps(args_a.get(key))} ({la}) vs "
                           f"{json.dumps(args_b.get(key))} ({lb})")
        da = ((ma.get("datasets") or {}).get(name) or {}).get("digest")
        db = ((mb.get("datasets") or {}).get(name) or {}).get("digest")
        if da and db and da != db:
            out.append(f"{name}: dataset files differ (sha256 digest {da[:12]} vs {db[:12]})")
    for d in datasets:
        if d["prompts_differ"]:
            out.append(f"{d['dataset']}: the prompt sent differs for {d['prompts_differ']} of the samples both runs have")
        if d["only_a"] or d["only_b"]:
            out.append(f"{d['dataset']}: the runs have different samples ({d['only_a']} only in {la}, "
                       f"{d['only_b']} only in {lb}); only the {d['n_common']} scored by both are compared")
    return out


def compare(run_dirs: list[Path], names: list[str | None] | None = None) -> dict:
    """`names`: a label per run where one was given (a sweep entry's `name:`), else model and time."""
    if len(run_dirs) < 2:
        from evalpack.errors import UsageError

        raise UsageError("compare needs at least two run directories: evalpack compare RUN_A RUN_B [RUN_C ...]")
    runs = [load_run(d) for d in run_dirs]
    for run, name in zip(runs, names or []):
        if name:
            run["label"] = f"{name} ({run['report'].get('model')})"
    labels = [r["label"] for r in runs]
    for i, label in enumerate(labels):  # two runs of one model in the same minute
        if labels.count(label) > 1:
            runs[i]["label"] = f"{label} #{labels[:i + 1].count(label)}"
    base = runs[0]
    comparisons, pairs = [], {}
    for j, other in enumerate(runs[1:], 1):
        names = [d["dataset"] for d in base["report"]["datasets"]
                 if any(o["dataset"] == d["dataset"] for o in other["report"]["datasets"])]
        datasets = []
        for name in names:
            result, flipped = _compare_dataset(name, base, other)
            datasets.append(result)
            pairs[f"{name}: {base['label']} → {other['label']}"] = {"runs": [base["label"], other["label"]],
                                                                     "pairs": flipped}
        comparisons.append({"a": 0, "b": j, "datasets": datasets, "warnings": warnings_for(base, other, datasets)})
    return {"runs": [{"label": r["label"], "run_dir": str(r["dir"].resolve()), "model": r["report"].get("model"),
                      "created": r["report"].get("created"), "evalpack_version": r["report"].get("evalpack_version"),
                      "datasets": [{"dataset": d["dataset"], "metric": d.get("metric"), "score": d.get("score"),
                                    "ci_low": d.get("ci_low"), "ci_high": d.get("ci_high"),
                                    "num_scored": d.get("num_scored")} for d in r["report"]["datasets"]]}
                     for r in runs],
            "comparisons": comparisons, "_pairs": pairs}


def _f(v, spec=".4f") -> str:
    return "-" if v is None else format(v, spec)


def terminal(result: dict) -> str:
    lines = []
    for comp in result["comparisons"]:
        la, lb = result["runs"][comp["a"]]["label"], result["runs"][comp["b"]]["label"]
        lines.append(f"A = {la}  ({result['runs'][comp['a']]['run_dir']})")
        lines.append(f"B = {lb}  ({result['runs'][comp['b']]['run_dir']})")
        for w in comp["warnings"]:
            lines.append(f"WARNING: {w}")
        lines += ["| Dataset | Metric | Subset | n | A | B | Δ (B−A) | 95% CI | p | test | A→B wrong→right | right→wrong |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for d in comp["datasets"]:
            for sub, row in [("OVERALL", d)] + [(s["subset"], s) for s in d["subsets"]]:
                ci = "-" if row.get("ci_low") is None else f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
                lines.append(f"| {d['dataset']} | {d['reported_metric']} | {sub} | {row['n']} | {_f(row['score_a'])} "
                             f"| {_f(row['score_b'])} | {_f(row['difference'], '+.4f')} | {ci} | {_f(row['p_value'], '.4g')} "
                             f"| {row.get('test') or '-'} | {row['gained']} | {row['lost']} |")
        lines.append("")
    return "\n".join(lines)


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    public = {k: v for k, v in result.items() if not k.startswith("_")}
    out.with_suffix(".json").write_text(json.dumps(public, indent=2, ensure_ascii=False), encoding="utf-8")
    out.write_text(render(result), encoding="utf-8")


def render(result: dict) -> str:
    from evalpack.report_html import _e, bar_chart, dataset_payload, page, pack, sample_record

    runs = result["runs"]
    title = "evalpack compare: " + " vs ".join(r["label"] for r in runs)
    body = [f"<header><h1>{_e(title)}</h1></header><main>"]
    body.append("<section id='runs'><h2>Runs</h2><table class='runs'><tr><th>run</th><th>label</th><th>model</th>"
                "<th>directory</th><th>evalpack</th></tr>")
    for i, r in enumerate(runs):
        body.append(f"<tr><td>{'ABCDEFGH'[i] if i < 8 else i}</td><td>{_e(r['label'])}</td><td>{_e(r['model'])}</td>"
                    f"<td>{_e(r['run_dir'])}</td><td>{_e(r['evalpack_version'])}</td></tr>")
    body.append("</table>")
    items = []
    classes = ["bar", "bar bar-b", "bar bar-c", "bar bar-d"]
    names = list(dict.fromkeys(d["dataset"] for r in runs for d in r["datasets"]))
    for name in names:
        for i, r in enumerate(runs):
            d = next((x for x in r["datasets"] if x["dataset"] == name), None)
            if d:
                items.append({"label": f"{name} · {r['label']}", "score": d["score"], "ci_low": d["ci_low"],
                              "ci_high": d["ci_high"], "cls": classes[i % len(classes)]})
    body.append(bar_chart(items, "reported score per dataset and run, 95% interval", width=760))
    body.append("</section>")
    for comp in result["comparisons"]:
        la, lb = runs[comp["a"]]["label"], runs[comp["b"]]["label"]
        body.append(f"<section class='comparison' data-a='{_e(la)}' data-b='{_e(lb)}'><h2>{_e(lb)} vs {_e(la)}</h2>")
        body += [f"<p class='warn'>⚠ {_e(w)}</p>" for w in comp["warnings"]]
        body.append("<table class='compare'><thead><tr><th>Dataset</th><th>Subset</th><th>n in common</th>"
                    f"<th>A: {_e(la)}</th><th>B: {_e(lb)}</th><th>Δ B−A</th><th>95% CI</th><th>p</th><th>test</th>"
                    "<th>wrong→right</th><th>right→wrong</th></tr></thead><tbody>")
        for d in comp["datasets"]:
            for sub, row in [("OVERALL", d)] + [(s["subset"], s) for s in d["subsets"]]:
                attrs = " ".join(f"data-{k.replace('_', '-')}='{_e('' if row.get(k) is None else row.get(k))}'"
                                 for k in ("n", "score_a", "score_b", "difference", "stderr", "ci_low", "ci_high",
                                           "p_value", "test", "gained", "lost"))
                ci = "-" if row.get("ci_low") is None else f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
                body.append(f"<tr data-dataset='{_e(d['dataset'])}' data-subset='{_e(sub)}' {attrs}>"
                            f"<td>{_e(d['dataset'])}</td><td>{_e(sub)}</td><td class='num'>{row['n']}</td>"
                            f"<td class='num'>{_f(row['score_a'])}</td><td class='num'>{_f(row['score_b'])}</td>"
                            f"<td class='num'>{_f(row['difference'], '+.4f')}</td><td class='num'>{ci}</td>"
                            f"<td class='num'>{_f(row['p_value'], '.4g')}</td><td>{_e(row.get('test') or '-')}</td>"
                            f"<td class='num'>{row['gained']}</td><td class='num'>{row['lost']}</td></tr>")
        body.append("</tbody></table></section>")
    body.append("<section id='samples'><h2>Flipped samples</h2><div id='flips'></div></section></main>")
    blocks = {}
    for key, data in result["_pairs"].items():
        side_a = dataset_payload([sample_record(p["a"]) for p in data["pairs"]])
        side_b = dataset_payload([sample_record(p["b"]) for p in data["pairs"]])
        by_id_a = {r["id"]: r for r in side_a["samples"]}
        by_id_b = {r["id"]: r for r in side_b["samples"]}
        blocks[key] = pack({"runs": data["runs"], "a": {"affixes": side_a["affixes"]},
                            "b": {"affixes": side_b["affixes"]},
                            "pairs": [{"id": p["id"], "dir": p["dir"], "a": by_id_a[p["id"]], "b": by_id_b[p["id"]]}
                                      for p in data["pairs"]]})
    return page(title, "".join(body), blocks, "compare")
