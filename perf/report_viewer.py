"""report.html size and load time in headless Chromium, for full MMLU and a mixed run.

    python perf/report_viewer.py --dataset-dir ../shared/datasets [--chromium /usr/bin/chromium]

Runs `evalpack eval` against the mock server (answers "ANSWER: A"), then opens report.html
from file:// and measures: the file size, the time until the overview is drawn (DOMContentLoaded)
and until the first page of samples is listed (the first dataset's data decoded), a status
filter and a text search over every sample, and opening one sample. Also times writing the
report (`evalpack report`). A measurement script, not a test: numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = {
    "full-mmlu": (["mmlu"], None),
    "mixed-5": (["mmlu", "ceval", "gsm8k", "gpqa_diamond", "humaneval"], "20"),
}


def run_eval(mock_url: str, data: Path, work: Path, datasets: list[str], limit: str | None) -> Path:
    cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", mock_url,
           "--datasets", *datasets, "--dataset-dir", str(data), "--work-dir", str(work), "--quiet",
           "--concurrency", "64"]
    if limit:
        cmd += ["--limit", limit]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    print(f"  eval: {time.perf_counter() - started:.1f} s")
    return Path(proc.stdout.strip().splitlines()[-1].split(": ", 1)[1])


def measure_page(path: Path, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="domcontentloaded")
        dom = time.perf_counter() - t0
        page.wait_for_selector("#browser tr.sample-row", timeout=120_000)
        listed = time.perf_counter() - t0
        t1 = time.perf_counter()
        page.click("#f-st-correct")
        page.wait_for_selector("#f-st-correct.on")
        filtered = time.perf_counter() - t1
        t2 = time.perf_counter()
        page.fill("#f-search", "which of the following")
        page.wait_for_function("document.querySelector('#match-count').dataset.query === 'which of the following'")
        searched = time.perf_counter() - t2
        matches = page.get_attribute("#match-count", "data-matches")
        t3 = time.perf_counter()
        page.click("#browser tr.sample-row")
        page.wait_for_selector("#detail .sample")
        opened = time.perf_counter() - t3
        memory = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
        browser.close()
    return {"dom_s": round(dom, 3), "first_list_s": round(listed, 3), "filter_s": round(filtered, 3),
            "search_s": round(searched, 3), "search_matches": matches, "open_sample_s": round(opened, 3),
            "js_heap_mb": round(memory / 2**20, 1) if memory else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset-dir", required=True, type=Path)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--port", type=int, default=18391)
    ns = ap.parse_args()
    mock = subprocess.Popen([sys.executable, "-m", "evalpack", "mock", "--port", str(ns.port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        with tempfile.TemporaryDirectory() as tmp:
            for name in ns.runs:
                datasets, limit = RUNS[name]
                print(f"{name}: {' '.join(datasets)}" + (f" --limit {limit}" if limit else ""))
                run_dir = run_eval(f"http://127.0.0.1:{ns.port}/v1", ns.dataset_dir, Path(tmp) / name, datasets, limit)
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "evalpack", "report", str(run_dir)], check=True,
                               capture_output=True)
                report_s = time.perf_counter() - t
                html = run_dir / "report.html"
                n = sum(d["num_samples"] for d in json.loads((run_dir / "report.json").read_text())["datasets"])
                exports = sum(f.stat().st_size for f in (run_dir / "samples").glob("*.jsonl"))
                print(f"  samples {n}, report.html {html.stat().st_size / 2**20:.2f} MB, "
                      f"samples/*.jsonl {exports / 2**20:.1f} MB, `evalpack report` {report_s:.1f} s")
                print("  chromium:", json.dumps(measure_page(html, ns.chromium)))
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
