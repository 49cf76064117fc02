"""report.html: one self-contained page per run that opens from file:// with no network.

The scores are static HTML (tables with data-* attributes, inline SVG charts with
interval whiskers), so they read without JavaScript. Every sample of the run is
embedded per dataset as gzip+base64 JSON and decoded on demand in the browser
(DecompressionStream); viewer.js filters, searches, pages and renders one sample
at a time. Text is escaped here for the static part and set with textContent by
the script, so no reply can inject markup.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from importlib import resources
from urllib.parse import quote
from pathlib import Path

from evalpack.scoring.reasoning import split_reasoning

MAX_TEXT = 20_000  # characters per field; longer text keeps its head and tail
MIN_SHARED = 80  # a prompt prefix/suffix shared by a subset's samples is stored once if this long


def _asset(name: str) -> str:
    return (resources.files("evalpack") / "data" / "viewer" / name).read_text(encoding="utf-8")


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    half = MAX_TEXT // 2
    return text[:half] + f"\n... [{len(text) - MAX_TEXT} characters cut] ...\n" + text[-half:]


def _trim(value):
    """JSON-able value with every long string cut (before any escaping: never mid-entity).
    A container whose whole JSON is short holds no long string and is returned as it is."""
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, (list, dict)):
        if len(json.dumps(value, ensure_ascii=False, default=str)) <= MAX_TEXT:
            return value
        if isinstance(value, list):
            return [_trim(v) for v in value]
        return {str(k): _trim(v) for k, v in value.items()}
    return value


def natural_key(text: str) -> list:
    """'mmlu/2' before 'mmlu/10': digit runs compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(text)) if part]


REPLY_KEYS = ("content", "reasoning", "tool_calls", "finish_reason")


def sample_record(rec: dict, reasoning_tags: list[str] | None = None) -> dict:
    """What the viewer shows of one exported sample (samples.record): the prompt split into
    the question and what came before, the reply (its answer apart from its reasoning: the
    server's reasoning_content and inline <think> blocks, cut where the scorer cuts), the
    transcript, extracted vs. gold, the scorer's detail, and what the run measured. Short keys:
    the page carries every sample."""
    from evalpack.samples import TRANSCRIPT_KEYS, status_of

    output = rec.get("output")
    calls = rec.get("calls") or []
    out: dict = {"id": rec["sample_id"], "rep": rec.get("repeat") or 0, "sub": rec.get("subset"),
                 "st": rec.get("status") or status_of(rec), "sc": rec.get("score"), "gold": rec.get("target"),
                 "ext": rec.get("extracted"), "err": rec.get("error"), "det": rec.get("detail") or None,
                 "meta": rec.get("metadata") or None, "lat": rec.get("latency"), "usage": rec.get("usage") or None,
                 "calls": len(calls), "tools": rec.get("tools")}
    messages = rec.get("prompt") or []
    last_user = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"),
                    default=None)
    if last_user is not None and isinstance(messages[last_user].get("content"), str):
        out["q"] = messages[last_user]["content"]
        out["pre_msgs"] = messages[:last_user] or None
        out["post_msgs"] = messages[last_user + 1:] or None
    elif messages:
        out["pre_msgs"] = messages
    timing = [{k: c[k] for k in ("ttft", "tpot") if k in c} for c in calls]
    if any(timing):
        out["timing"] = timing
    transcript = rec.get("conversation")
    if isinstance(output, dict):
        for key in TRANSCRIPT_KEYS:
            value = output.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                transcript = value
                break
        out["reply"], out["reasoning"], cut = _apart(output.get("content"), output.get("reasoning"), reasoning_tags)
        out["noans"] = cut or None
        out["reply_calls"] = output.get("tool_calls")
        out["out"] = {k: v for k, v in output.items() if k not in REPLY_KEYS and k not in TRANSCRIPT_KEYS} or None
    elif output is not None:
        out["out"] = {"output": output}
    if isinstance(transcript, list):
        transcript = [_message_apart(m, reasoning_tags) for m in transcript]
    out["conv"] = transcript
    if transcript is not None and rec.get("conversation") is None:
        # the output's own transcript (an agent with a simulated user): the first request may be
        # the user simulator's, so the task is the question, not that request's last message
        meta = rec.get("metadata") or {}
        task = meta.get("instruction") or meta.get("question") or next(
            (m.get("content") for m in transcript if isinstance(m, dict) and m.get("role") == "user"), None)
        out.update(q=task if isinstance(task, str) else None, pre_msgs=None, post_msgs=None)
    return _trim({k: v for k, v in out.items() if v is not None})


def _apart(content, reasoning, tags) -> tuple:
    """(answer, all reasoning, True when the reply ended inside its reasoning): inline thinking
    is split off by the one stripper, so the answer shown is the one that was scored."""
    if not isinstance(content, str):
        return content, reasoning, False
    thought, answer = split_reasoning(content, tags)
    parts = [r for r in (reasoning if isinstance(reasoning, str) else None, thought) if r]
    return answer, "\n\n".join(parts) or reasoning or None, answer is None


def _message_apart(m, tags):
    if not isinstance(m, dict) or m.get("role") != "assistant" or not isinstance(m.get("content"), str):
        return m
    answer, reasoning, cut = _apart(m["content"], m.get("reasoning"), tags)
    out = {**m, "content": answer if not cut else "(no answer: the reply ended inside its reasoning)"}
    if reasoning:
        out["reasoning"] = reasoning
    return out


def _shared_affixes(texts: list[str]) -> tuple[str, str]:
    """The prefix and suffix every text shares, cut at paragraph breaks (few-shot blocks,
    instructions), so each sample stores only its own question."""
    if len(texts) < 2:
        return "", ""
    first, last = min(texts), max(texts)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    prefix = prefix[:prefix.rfind("\n") + 1] if "\n" in prefix else ""
    rest = [t[len(prefix):] for t in texts]
    m = 0
    shortest = min(len(t) for t in rest)
    while m < shortest and len({t[len(t) - m - 1] for t in rest}) == 1:
        m += 1
    suffix = rest[0][len(rest[0]) - m:] if m else ""
    suffix = suffix[suffix.find("\n"):] if "\n" in suffix else ""
    return (prefix if len(prefix) >= MIN_SHARED else "", suffix if len(suffix) >= MIN_SHARED else "")


def dataset_payload(records: list[dict]) -> dict:
    """Records in natural id order, with each subset's shared prompt parts stored once."""
    records.sort(key=lambda r: (natural_key(r["id"]), r["rep"]))
    affixes: dict[str, list[str]] = {}
    by_subset: dict[str, list[dict]] = {}
    for rec in records:
        if isinstance(rec.get("q"), str):
            by_subset.setdefault(str(rec.get("sub")), []).append(rec)
    for subset, recs in by_subset.items():
        prefix, suffix = _shared_affixes([r["q"] for r in recs])
        if prefix or suffix:
            affixes[subset] = [prefix, suffix]
            for r in recs:
                r["q"] = r["q"][len(prefix):len(r["q"]) - len(suffix)]
    return {"samples": records, "affixes": affixes}


def pack(payload) -> str:
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return base64.b64encode(gzip.compress(raw, 6, mtime=0)).decode()


# --- static parts ---

def bar_chart(items: list[dict], title: str, link: str | None = None, width: int = 640) -> str:
    """Horizontal bars with 95% whiskers; items: label, score, ci_low, ci_high (whiskers drawn
    clipped to the axis, the numbers in the table and the data-* attributes are not)."""
    items = [i for i in items if isinstance(i.get("score"), (int, float))]
    if not items:
        return ""
    top = max([1.0] + [i["score"] for i in items] + [i["ci_high"] for i in items if i.get("ci_high") is not None])
    bottom = min([0.0] + [i["score"] for i in items])
    label_w, bar_h, pad = 230, 18, 4
    plot_w = width - label_w - 70
    height = len(items) * (bar_h + pad) + 36

    def x(v: float) -> float:
        return label_w + (max(min(v, top), bottom) - bottom) / ((top - bottom) or 1) * plot_w

    out = [f"<svg class='chart' role='img' aria-label='{_e(title)}' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}'><title>{_e(title)}</title>"]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        if bottom <= tick <= top:
            tx = x(tick)
            out.append(f"<line x1='{tx:.1f}' y1='4' x2='{tx:.1f}' y2='{height - 22}' class='grid'/>"
                       f"<text x='{tx:.1f}' y='{height - 8}' class='tick'>{tick:g}</text>")
    for n, item in enumerate(items):
        y = 6 + n * (bar_h + pad)
        label = str(item["label"])
        short = label if len(label) <= 34 else label[:33] + "…"
        bar = (f"<text x='{label_w - 6}' y='{y + bar_h - 5}' class='lbl'>{_e(short)}</text>"
               f"<rect x='{x(0 if bottom == 0 else bottom):.1f}' y='{y}' width='{max(x(item['score']) - x(bottom), 0.5):.1f}' "
               f"height='{bar_h}' class='{_e(item.get('cls', 'bar'))}'><title>{_e(label)}: {item['score']:.4f}</title></rect>")
        if item.get("ci_low") is not None:
            lo, hi, cy = x(item["ci_low"]), x(item["ci_high"]), y + bar_h / 2
            bar += (f"<line x1='{lo:.1f}' y1='{cy}' x2='{hi:.1f}' y2='{cy}' class='whisker'/>"
                    f"<line x1='{lo:.1f}' y1='{y + 4}' x2='{lo:.1f}' y2='{y + bar_h - 4}' class='whisker'/>"
                    f"<line x1='{hi:.1f}' y1='{y + 4}' x2='{hi:.1f}' y2='{y + bar_h - 4}' class='whisker'/>")
        bar += f"<text x='{label_w + plot_w + 6}' y='{y + bar_h - 5}' class='val'>{item['score']:.3f}</text>"
        href = item.get("href") or link
        out.append(f"<a href='{_e(href)}'>{bar}</a>" if href else bar)
    out.append("</svg>")
    return "".join(out)


def _num(v) -> str:
    return "" if v is None else (repr(v) if isinstance(v, float) else str(v))  # full precision


def _fixed(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def score_table(rows: list[dict], sample_links: bool = True) -> str:
    head = ("<table class='scores'><thead><tr><th>Dataset</th><th>Metric</th><th>Subset</th><th>Num</th>"
            "<th>Score</th><th>± SE</th><th>95% CI</th><th></th></tr></thead><tbody>")
    out = [head]
    for r in rows:
        attrs = " ".join(f"data-{k.replace('_', '-')}='{_e(_num(r.get(k)))}'"
                         for k in ("dataset", "metric", "subset", "kind", "num", "score", "stderr", "ci_low", "ci_high",
                                   "ci_method"))
        ci = "-" if r.get("ci_low") is None else f"[{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
        link = ""
        if sample_links and (r["kind"] in ("overall", "subset") or r.get("linked")):
            q = f"ds={quote(r['dataset'])}"
            if r["kind"] == "subset":
                q += f"&sub={quote(r['subset'])}"
            elif r["kind"] == "group":  # a category row: the samples whose metadata has that value
                q += f"&grp={quote(r['group'])}&gv={quote(r['subset'].split(': ', 1)[1])}"
            link = f"<a class='to-samples' href='#samples?{_e(q)}'>samples</a>"
        out.append(f"<tr class='row-{_e(r['kind'])}' {attrs}><td>{_e(r['dataset'])}</td><td>{_e(r['metric'])}</td>"
                   f"<td>{_e(r['subset'])}</td><td class='num'>{_e(r['num'])}</td>"
                   f"<td class='num score'>{_fixed(r['score'])}</td><td class='num'>{_fixed(r.get('stderr'))}</td>"
                   f"<td class='num ci'>{ci}</td><td>{link}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def meta_table(meta: dict) -> str:
    if not meta:
        return ""
    out = ["<table class='meta'>"]
    for key, value in meta.items():
        if isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False, indent=1)
            cell = f"<pre>{_e(_cut(text))}</pre>"
        else:
            cell = _e(value)
        out.append(f"<tr data-key='{_e(key)}'><th>{_e(key)}</th><td>{cell}</td></tr>")
    out.append("</table>")
    return "".join(out)


def page(title: str, body: str, data_blocks: dict[str, str], mode: str) -> str:
    blobs = "".join(f"<script type='application/octet-stream' id='data-{_e(k)}' data-name='{_e(k)}'>{v}</script>"
                    for k, v in data_blocks.items())
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{_asset('viewer.css')}</style></head>"
            f"<body data-mode='{_e(mode)}'>{body}{blobs}<script>{_asset('viewer.js')}</script></body></html>")


def _link_groups(table_rows: list[dict], samples: dict[str, dict]) -> None:
    """A group row (e.g. "category: STEM") links to its samples when the samples' metadata
    has a field of the group's name holding that value (MMLU's category, GPQA's subdomain)."""
    for r in table_rows:
        if r["kind"] != "group":
            continue
        value = r["subset"].split(": ", 1)[1]
        recs = (samples.get(r["dataset"]) or {}).get("samples") or []
        r["linked"] = any(str((x.get("meta") or {}).get(r["group"])) == value for x in recs)


def render(report: dict, table_rows: list[dict], samples: dict[str, dict]) -> str:
    _link_groups(table_rows, samples)
    title = f"evalpack report: {report.get('model')}"
    datasets = report.get("datasets", [])
    body = [f"<header><h1>{_e(title)}</h1><p class='sub'>evalpack {_e(report.get('evalpack_version'))} · "
            f"{_e(report.get('created'))}{' · rescored' if report.get('rescored') else ''}</p>"
            "<nav><a href='#overview'>overview</a> <a href='#samples'>samples</a> <a href='#meta'>run</a></nav></header>",
            "<main><section id='overview'><h2>Overview</h2>"]
    from evalpack.shard import report_note

    if report_note(report):  # a part of a run must not pass for the whole run
        body.append(f"<p class='warn' data-shard>{_e(report_note(report))}</p>")
    overview = [{"label": f"{d['dataset']} ({d['metric']})", "score": d.get("score"), "ci_low": d.get("ci_low"),
                 "ci_high": d.get("ci_high"), "href": f"#ds-{d['dataset']}"} for d in datasets]
    body.append(bar_chart(overview, "score per dataset, 95% interval"))
    body.append(score_table([r for r in table_rows if r["kind"] == "overall"]))
    for d in datasets:
        name = d["dataset"]
        body.append(f"<section class='dataset' id='ds-{_e(name)}' data-dataset='{_e(name)}'>"
                    f"<h2>{_e(name)}</h2><p class='counts'>"
                    f"<span data-count='samples'>{_e(d.get('num_samples'))} samples</span> · "
                    f"<span data-count='scored'>{_e(d.get('num_scored'))} scored</span> · "
                    f"<a href='#samples?ds={_e(name)}&st=error' data-count='errors'>{_e(d.get('num_errors', 0))} errors</a> · "
                    f"<a href='#samples?ds={_e(name)}&st=unparsed' data-count='unparsed'>{_e(d.get('num_unparsed', 0))} unparsed</a> · "
                    + (f"<a href='#samples?ds={_e(name)}&st=judge_error' data-count='judge-errors'>"
                       f"{_e(d['judge'].get('num_errors', 0))} judge errors</a> · " if d.get("judge") else "") +
                    f"<a href='#samples?ds={_e(name)}&st=wrong'>wrong</a></p>")
        subsets = d.get("subsets") or []
        if len(subsets) > 1:
            body.append(bar_chart([{"label": s["name"], "score": s["score"], "ci_low": s.get("ci_low"),
                                    "ci_high": s.get("ci_high"), "href": f"#samples?ds={quote(name)}&sub={quote(s['name'])}"}
                                   for s in subsets], f"{name}: {d['metric']} per subset"))
        for gname, grows in (d.get("groups") or {}).items():
            if len(grows) > 1:
                body.append(bar_chart([{"label": g["name"], "score": g["score"], "ci_low": g.get("ci_low"),
                                        "ci_high": g.get("ci_high")} for g in grows], f"{name}: per {gname}"))
        ds_rows = [r for r in table_rows if r["dataset"] == name]
        body.append(f"<details class='table' open><summary>all scores "
                    f"({len(ds_rows)} rows)</summary>{score_table(ds_rows)}</details>")
        notes = list(d.get("notes") or [])
        if notes:
            body.append("".join(f"<p class='note'>{_e(n)}</p>" for n in notes))
        if d.get("args"):
            body.append(f"<details><summary>settings</summary><pre>{_e(json.dumps(d['args'], indent=1))}</pre></details>")
        body.append("</section>")
    body.append("</section>")
    body.append("<section id='samples'><h2>Samples</h2><div id='browser' class='browser'>"
                "<noscript>The sample browser needs JavaScript; samples/*.jsonl has every sample.</noscript></div></section>")
    body.append(f"<section id='meta'><h2>Run</h2>{meta_table(report.get('meta') or {})}</section></main>")
    blocks = {name: pack(payload) for name, payload in samples.items()}
    return page(title, "".join(body), blocks, "report")


def write(run_dir: Path, report: dict, table_rows: list[dict], exported: dict[str, list[dict]]) -> Path:
    """exported: dataset -> its samples/<dataset>.jsonl records."""
    tags = {d.get("dataset"): (d.get("args") or {}).get("reasoning_tags") for d in report.get("datasets") or []}
    payloads = {name: dataset_payload([sample_record(r, tags.get(name)) for r in recs])
                for name, recs in exported.items()}
    path = Path(run_dir) / "report.html"
    path.write_text(render(report, table_rows, payloads), encoding="utf-8")
    return path
