"""The terminal table and the self-contained HTML page (inline SVG, no script, no network)."""

from __future__ import annotations

import html as _html
import math

LATENCIES = [("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2e", "E2E latency")]
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def level_name(level: dict) -> str:
    if level.get("rate"):
        return f"rate {level['rate']:g}/s"
    return f"parallel {level['parallel']}"


def _ms(stat: dict | None, key: str) -> str:
    return "-" if not stat or stat.get(key) is None else f"{stat[key] * 1000:.1f}"


def _num(value, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def table(result: dict) -> str:
    levels = result["levels"]
    lines = [f"model {result['model']}; prompts: {result['prompts']}",
             f"{result['token_counting']}", ""]
    head = ["load", "ok", "failed", "req/s", "out tok/s", "total tok/s"]
    if result.get("slo"):
        head += ["goodput/s", "SLO met"]
    rows = [head]
    for lv in levels:
        row = [level_name(lv), str(lv["completed"]), str(lv["failed"]), _num(lv["request_throughput"]),
               _num(lv["output_throughput"], ".1f"), _num(lv["total_token_throughput"], ".1f")]
        if result.get("slo"):
            row += [_num(lv.get("goodput")), f"{lv['slo_attainment']:.0%}" if lv.get("slo_attainment") is not None
                    else "-"]
        rows.append(row)
    lines += _grid(rows)
    for key, title in LATENCIES:
        lines += ["", f"{title} (ms)"]
        rows = [["load", "mean", "median", "p90", "p95", "p99", "max"]]
        for lv in levels:
            st = lv.get(key)
            rows.append([level_name(lv)] + [_ms(st, k) for k in ("mean", "median", "p90", "p95", "p99", "max")])
        lines += _grid(rows)
    notes = []
    for lv in levels:
        if lv["errors"]:
            kinds = ", ".join(f"{k}: {v}" for k, v in sorted(lv["errors"].items()))
            notes.append(f"{level_name(lv)}: errors by kind: {kinds}")
        if lv.get("send_rate") and lv.get("rate"):
            notes.append(f"{level_name(lv)}: achieved send rate {lv['send_rate']:.3f}/s")
        cache = lv.get("prompt_cache")
        if cache:
            got = (f"the server evaluated {cache['evaluated_by_server']} of {cache['prompt_tokens']} prompt tokens"
                   if "evaluated_by_server" in cache else
                   f"{cache['cached_tokens']} of {cache['prompt_tokens']} prompt tokens came from the cache")
            notes.append(f"{level_name(lv)}: {got} ({cache['reused_share']:.1%} reused)")
        lag = lv.get("client_loop_lag")
        if lag and lag["p99"] > 0.010:
            notes.append(f"{level_name(lv)}: the client's event loop ran {lag['p99'] * 1000:.0f} ms late "
                         f"(p99): the client was busy, latencies may read high")
    search = result.get("search")
    if search:
        best = search["best"]
        notes.append(f"SLO search over {search['variable']}: highest meeting the SLO: "
                     + ("none (the lowest probe failed)" if best is None else f"{best:g}")
                     + (f"; first failing {search['first_failing']:g}" if search.get("first_failing") else "")
                     + (f"; stopped at the cap {search['capped_at']:g}" if search.get("capped_at") else ""))
    if notes:
        lines += [""] + notes
    return "\n".join(lines) + "\n"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def serving_lines(report: dict) -> list[str]:
    """report.md's table of each dataset's model calls: latency and token throughput (TTFT and
    TPOT when the run streamed). Empty when no dataset has `serving` data."""
    sets = [(ds["dataset"], ds["serving"]) for ds in report.get("datasets") or [] if ds.get("serving")]
    if not sets:
        return []
    ms = lambda d, k: "-" if not d else f"{d[k] * 1000:.0f}"  # noqa: E731
    lines = ["", "| Dataset | Calls | Calls/s | Output tok/s | Total tok/s | Latency p50 / p99 (ms) "
                 "| TTFT p50 / p99 (ms) | TPOT p50 (ms) |", "|---|---|---|---|---|---|---|---|"]
    for name, s in sets:
        lines.append(f"| {name} | {s['requests']} | {_num(s['request_throughput'])} | "
                     f"{_num(s['output_throughput'], '.1f')} | {_num(s['total_token_throughput'], '.1f')} | "
                     f"{ms(s['latency'], 'median')} / {ms(s['latency'], 'p99')} | "
                     f"{ms(s['ttft'], 'median')} / {ms(s['ttft'], 'p99')} | {ms(s['tpot'], 'median')} |")
    return lines


# --- HTML ---

def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 2) if start + i * step <= hi + step * 1e-9]


def svg_chart(series: list[tuple[str, list[tuple[float, float]]]], xlabel: str, ylabel: str,
              width: int = 520, height: int = 300) -> str:
    pts = [p for _, ps in series for p in ps if all(map(math.isfinite, p))]
    if not pts:
        return "<p>(no data)</p>"
    ml, mr, mt, mb = 60, 16, 12, 44
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(0.0, min(p[1] for p in pts)), max(p[1] for p in pts)
    xt, yt = _ticks(x0, x1), _ticks(y0, y1)
    x0, x1, y0, y1 = min(xt[0], x0), max(xt[-1], x1), min(yt[0], y0), max(yt[-1], y1)
    sx = lambda x: ml + (x - x0) / ((x1 - x0) or 1) * (width - ml - mr)  # noqa: E731
    sy = lambda y: height - mb - (y - y0) / ((y1 - y0) or 1) * (height - mt - mb)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{_html.escape(ylabel)} vs {_html.escape(xlabel)}">',
             f'<rect x="{ml}" y="{mt}" width="{width - ml - mr}" height="{height - mt - mb}" fill="#fff" stroke="#ccc"/>']
    for t in xt:
        parts.append(f'<line x1="{sx(t):.1f}" y1="{height - mb}" x2="{sx(t):.1f}" y2="{mt}" stroke="#eee"/>'
                     f'<text x="{sx(t):.1f}" y="{height - mb + 14}" font-size="11" text-anchor="middle">{t:g}</text>')
    for t in yt:
        parts.append(f'<line x1="{ml}" y1="{sy(t):.1f}" x2="{width - mr}" y2="{sy(t):.1f}" stroke="#eee"/>'
                     f'<text x="{ml - 4}" y="{sy(t) + 4:.1f}" font-size="11" text-anchor="end">{t:g}</text>')
    parts.append(f'<text x="{(ml + width - mr) / 2}" y="{height - 8}" font-size="12" text-anchor="middle">'
                 f'{_html.escape(xlabel)}</text>')
    parts.append(f'<text transform="translate(14 {(mt + height - mb) / 2}) rotate(-90)" font-size="12" '
                 f'text-anchor="middle">{_html.escape(ylabel)}</text>')
    for i, (label, ps) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        ps = [p for p in ps if all(map(math.isfinite, p))]
        if not ps:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in ps)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}">'
                     f'<title>{_html.escape(label)}</title></polyline>')
        if len(ps) < 30:
            parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"><title>'
                      f'{_html.escape(label)}: {x:g}, {y:.4g}</title></circle>' for x, y in ps]
    parts.append("</svg>")
    legend = " ".join(f'<span style="color:{COLORS[i % len(COLORS)]}">&#9632; {_html.escape(lab)}</span>'
                      for i, (lab, _) in enumerate(series))
    return f'<figure>{"".join(parts)}<figcaption>{legend}</figcaption></figure>'


def _cdf(stat: dict | None) -> list[tuple[float, float]]:
    if not stat:
        return []
    pts = [(stat["min"] * 1000, 0.0)]
    pts += [(v * 1000, float(p) / 100) for p, v in stat["percentiles"].items()]
    pts.append((stat["max"] * 1000, 1.0))
    return sorted(pts, key=lambda p: p[1])


def html(result: dict) -> str:
    levels = result["levels"]
    esc = _html.escape
    body = [f"<h1>evalpack perf: {esc(str(result['model']))}</h1>",
            f"<p>{esc(result['prompts'])}<br>{esc(result['token_counting'])}<br>"
            f"{esc(result['created'])}, evalpack {esc(result['evalpack_version'])}</p>",
            "<h2>Summary</h2>", "<pre>" + esc(table(result)) + "</pre>", "<h2>Latency distributions</h2>"]
    for key, title in LATENCIES:
        series = [(level_name(lv), _cdf(lv.get(key))) for lv in levels]
        body.append(f"<section><h3>{title} CDF</h3>{svg_chart(series, f'{title} (ms)', 'fraction of requests' if key != 'itl' else 'fraction of gaps')}</section>")
    by_rate = any(lv.get("rate") for lv in levels)
    xs = sorted(levels, key=lambda lv: lv["rate"] if by_rate else lv["parallel"])
    xname = "request rate (req/s)" if by_rate else "concurrency"
    xv = (lambda lv: lv["rate"]) if by_rate else (lambda lv: lv["parallel"])  # noqa: E731
    if len(xs) > 1:
        body.append("<h2>Throughput and latency vs load</h2>")
        tput = [("output tok/s", [(xv(lv), lv["output_throughput"] or 0.0) for lv in xs]),
                ("total tok/s", [(xv(lv), lv["total_token_throughput"] or 0.0) for lv in xs])]
        body.append(f"<section><h3>Token throughput</h3>{svg_chart(tput, xname, 'tokens/s')}</section>")
        reqs = [("requests/s", [(xv(lv), lv["request_throughput"] or 0.0) for lv in xs])]
        if result.get("slo"):
            reqs.append(("goodput/s", [(xv(lv), lv.get("goodput") or 0.0) for lv in xs]))
        body.append(f"<section><h3>Request throughput</h3>{svg_chart(reqs, xname, 'requests/s')}</section>")
        lat = []
        for key, title in (("ttft", "TTFT"), ("tpot", "TPOT"), ("e2e", "E2E")):
            for q in ("median", "p99"):
                lat.append((f"{title} {q}", [(xv(lv), lv[key][q] * 1000) for lv in xs if lv.get(key)]))
        body.append(f"<section><h3>Latency</h3>{svg_chart(lat, xname, 'ms')}</section>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1150px;color:#222}"
             "section{display:inline-block;vertical-align:top;margin:0 1em 1em 0}"
             "pre{background:#f6f6f6;padding:1em;overflow-x:auto}figcaption{font-size:12px}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>evalpack perf: {esc(str(result['model']))}</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
