"""report.html: one self-contained page per run, readable with no server and no internet.

The scores (as in report.md), then per dataset the samples with what was asked
and answered: the prompt, the reply, the extracted answer and score, errors, and
for multi-turn benchmarks the whole conversation (tool calls, tool results,
simulated-user turns). Errored and failed samples come first; at most
`MAX_SAMPLES` per dataset are rendered in full (samples/<dataset>.jsonl has all).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

MAX_SAMPLES = 300
MAX_TEXT = 20_000

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
details{border:1px solid #ddd;border-radius:4px;margin:4px 0;padding:2px 8px}
summary{cursor:pointer}.ok{color:#176d2c}.bad{color:#a31515}.err{color:#b35900}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:6px;margin:4px 0;max-height:30em;overflow:auto}
.msg{border-left:3px solid #bbb;padding-left:8px;margin:6px 0}.role{font-weight:600;font-size:12px;color:#555}
.user{border-color:#4a7bd0}.assistant{border-color:#2e9a4e}.tool{border-color:#c98a00}.system{border-color:#888}
"""


def _e(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT // 2] + f"\n... [{len(text) - MAX_TEXT} characters cut] ...\n" + text[-MAX_TEXT // 2:]
    return html.escape(text)


def _messages(messages: list) -> str:
    out = []
    for m in messages:
        if not isinstance(m, dict):
            out.append(f"<pre>{_e(m)}</pre>")
            continue
        role = str(m.get("role", "?"))
        body = ""
        if m.get("content") not in (None, ""):
            body += f"<pre>{_e(m['content'])}</pre>"
        for tc in m.get("tool_calls") or []:
            fn = tc.get("function", tc) if isinstance(tc, dict) else tc
            body += f"<pre>call {_e(fn.get('name', '?'))}({_e(fn.get('arguments', ''))})</pre>"
        label = role + (f" · {m['name']}" if m.get("name") else "")
        out.append(f"<div class='msg {html.escape(role)}'><div class='role'>{_e(label)}</div>{body}</div>")
    return "".join(out)


def _conversation(output) -> str | None:
    """A benchmark's own transcript, if its output carries one."""
    if isinstance(output, dict):
        for key in ("transcript", "messages", "conversation", "history"):
            value = output.get(key)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return _messages(value)
    return None


def _sample(row: dict, calls: list[tuple[dict, dict]]) -> str:
    score = row.get("score")
    if row.get("error"):
        status, cls = "error", "err"
    elif row.get("unparsed"):
        status, cls = "unparsed", "bad"
    else:
        status, cls = (f"score {score:g}", "ok" if score and score > 0 else "bad") if score is not None else ("-", "")
    head = (f"<summary><span class='{cls}'>{html.escape(status)}</span> · {html.escape(str(row['sample_id']))}"
            + (f" #{row['repeat']}" if row.get("repeat") else "")
            + f" · target {_e(row.get('target'))[:80]} · extracted {_e(row.get('extracted'))[:80]}</summary>")
    parts = []
    if row.get("error"):
        parts.append(f"<p class='err'>error: {_e(row['error'])}</p>")
    conversation = _conversation(row.get("output"))
    if conversation is not None:
        parts.append(conversation)
    elif calls:
        request, response = calls[0]
        parts.append(_messages(request.get("messages") or []))
        reply = {"role": "assistant", "content": response.get("content"), "tool_calls": response.get("tool_calls")}
        if response.get("reasoning"):
            parts.append(f"<details><summary>reasoning</summary><pre>{_e(response['reasoning'])}</pre></details>")
        parts.append(_messages([reply]))
        if len(calls) > 1:
            parts.append(f"<p>{len(calls) - 1} more model calls in run.db</p>")
    elif row.get("output") is not None:
        parts.append(f"<pre>{_e(row['output'])}</pre>")
    if row.get("detail"):
        parts.append(f"<details><summary>scoring detail</summary><pre>{_e(row['detail'])}</pre></details>")
    return f"<details>{head}{''.join(parts)}</details>"


def render(report: dict, rows_by_dataset: dict[str, list[dict]],
           calls_by_sample: dict[tuple[str, str, int], list[tuple[dict, dict]]]) -> str:
    from evalpack.report import markdown

    title = f"evalpack report: {report.get('model')}"
    out = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{CSS}</style>",
           f"<h1>{html.escape(title)}</h1><p>run {html.escape(str(report.get('run_dir')))} · "
           f"{html.escape(str(report.get('created')))} · evalpack {html.escape(str(report.get('evalpack_version')))}</p>",
           _table(markdown(report))]
    for ds in report.get("datasets", []):
        name = ds["dataset"]
        rows = rows_by_dataset.get(name, [])
        total = ds.get("num_samples", len(rows))
        out.append(f"<h2 id='{html.escape(name)}'>{html.escape(name)}: {total} samples</h2>")
        if ds.get("args"):
            out.append(f"<details><summary>settings</summary><pre>{_e(ds['args'])}</pre></details>")
        for row in rows:
            out.append(_sample(row, calls_by_sample.get((name, row["sample_id"], row["repeat"]), [])))
        if total > len(rows):
            out.append(f"<p>{total - len(rows)} more samples in samples/{html.escape(name)}.jsonl</p>")
    return "\n".join(out)


def _table(md: str) -> str:
    lines = [l for l in md.splitlines() if l.startswith("|")]
    notes = [l for l in md.splitlines() if l.startswith("- ")]
    if not lines:
        return ""
    cells = [[c.strip() for c in l.strip("|").split("|")] for l in lines if not set(l) <= set("|-")]
    head, body = cells[0], cells[1:]
    out = ["<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"]
    for r in body:
        out.append("<tr>" + "".join(f"<td{' class=num' if i >= len(r) - 2 else ''}>{html.escape(c)}</td>"
                                     for i, c in enumerate(r)) + "</tr>")
    out.append("</table>")
    out += [f"<p>{html.escape(n[2:])}</p>" for n in notes]
    return "".join(out)


def write(run_dir: Path, report: dict, store) -> Path:
    """Render from the store: the rows shown and the first calls of those samples."""
    rows_by_dataset: dict[str, list[dict]] = {}
    wanted: set[tuple[str, str, int]] = set()
    for ds in report.get("datasets", []):
        name, variant = ds["dataset"], ds.get("variant")
        rows = list(store.results(name, variant, failures_first=True, limit=MAX_SAMPLES))
        rows_by_dataset[name] = rows
        wanted.update((name, r["sample_id"], r["repeat"]) for r in rows)
    calls = store.calls_for(wanted)
    path = Path(run_dir) / "report.html"
    path.write_text(render(report, rows_by_dataset, calls), encoding="utf-8")
    return path
