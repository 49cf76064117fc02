"""HumanEval: code extraction, program assembly, pass@k, and the whole pipeline against the
real HumanEval.jsonl.gz, a real `evalpack mock` server on 127.0.0.1 and the real sandbox."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from evalpack.benchmarks import registry
from evalpack.benchmarks.base import Result
from evalpack.benchmarks.humaneval import HumanEval, build_program
from evalpack.errors import UsageError
from evalpack.scoring.code_extract import as_function_body, drop_main_guard, extract_code

PROMPT = 'def add(a, b):\n    """Add two numbers."""\n'
TEST = "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"


# --- extraction -------------------------------------------------------------------------

@pytest.mark.parametrize("reply", [
    "```python\ndef add(a, b):\n    return a + b\n```",
    "```\ndef add(a, b):\n    return a + b\n```",
    "```py\ndef add(a, b):\n    return a + b\n```",
    "Sure! Here it is:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nIt adds `a` and `b`.",
    "def add(a, b):\n    return a + b\n",
    "Here is the function:\ndef add(a, b):\n    return a + b\nThis returns the sum.",
    # several blocks: the one that defines the entry point wins over an example
    "First an example:\n```python\nprint(add(1, 2))\n```\nThe code:\n```python\ndef add(a, b):\n"
    "    return a + b\n```\n",
    # a reply cut off after the code (no closing fence)
    "```python\ndef add(a, b):\n    return a + b\n",
    "~~~python\ndef add(a, b):\n    return a + b\n~~~",
])
def test_full_function_replies_run_correctly(reply):
    code = extract_code(reply, "add")
    assert "return a + b" in code and "```" not in code
    program = build_program(PROMPT, code, TEST, "add")
    scope: dict = {}
    exec(compile(program, "p", "exec"), scope)  # trusted test code, no sandbox needed here


@pytest.mark.parametrize("reply", [
    "```python\n    return a + b\n```",
    "```python\nreturn a + b\n```",  # a body written flush left
    "    return a + b\n",
])
def test_body_only_replies_are_appended_to_the_prompt(reply):
    program = build_program(PROMPT, extract_code(reply, "add"), TEST, "add")
    assert program.startswith(PROMPT)
    exec(compile(program, "p", "exec"), {})


def test_wrong_and_empty_replies_fail():
    for reply in ("```python\ndef add(a, b):\n    return a - b\n```", "", None, "I cannot do that."):
        program = build_program(PROMPT, extract_code(reply, "add"), TEST, "add")
        with pytest.raises((AssertionError, SyntaxError, NameError, TypeError)):
            exec(compile(program, "p", "exec"), {})


def test_main_guard_is_dropped_and_other_code_kept():
    code = 'def f():\n    return 1\n\nif __name__ == "__main__":\n    print(input())\n\nX = 2\n'
    kept = drop_main_guard(code)
    assert "input()" not in kept and "X = 2" in kept and "def f" in kept
    assert as_function_body("return 1") == "    return 1\n"


# --- args and pass@k ----------------------------------------------------------------------

def test_n_maps_to_repeats_and_bad_args_are_usage_errors():
    bench = registry.get("humaneval")
    assert bench.resolve_args({"n": 10})["repeats"] == 10
    assert bench.resolve_args({})["repeats"] == 1
    for bad in ({"n": 0}, {"n": "5"}, {"timeout": -1}, {"sandbox": "vm"}, {"n": 5, "repeats": 3}):
        with pytest.raises(UsageError):
            bench.resolve_args(bad)


def _results(passes: dict[str, list[bool]]) -> list[Result]:
    return [Result(sample_id=t, subset="openai_humaneval", repeat=i, score=float(ok),
                   detail={"status": "passed" if ok else "failed"})
            for t, oks in passes.items() for i, ok in enumerate(oks)]


def test_pass_at_k_is_the_unbiased_estimator():
    # task A: 3 of 10 pass, task B: 0 of 10, task C: 10 of 10
    results = _results({"A": [True] * 3 + [False] * 7, "B": [False] * 10, "C": [True] * 10})
    report = HumanEval().aggregate(results, {"repeats": 10})
    # pass@k(n=10, c=3): 1 - C(7,k)/C(10,k) -> k=1: 0.3, k=5: 1 - 21/252, k=10: 1
    assert report["metrics"]["pass@1"] == pytest.approx((0.3 + 0 + 1) / 3)
    assert report["metrics"]["pass@5"] == pytest.approx((1 - 21 / 252 + 0 + 1) / 3)
    assert report["metrics"]["pass@10"] == pytest.approx((1 + 0 + 1) / 3)
    assert report["score"] == report["metrics"]["pass@1"]
    assert report["status_counts"]["passed"] == 13 and report["status_counts"]["failed"] == 17
    only_one = HumanEval().aggregate(_results({"A": [True], "B": [False]}), {"repeats": 1})
    assert only_one["metrics"] == {"pass@1": 0.5}


# --- the real file, end to end ------------------------------------------------------------

RESPONDER = '''
import gzip, json, os

TASKS = [json.loads(l) for l in gzip.open(os.environ["HUMANEVAL_FILE"], "rt")]
calls = {"n": 0}

def _task(body):
    text = body["messages"][-1]["content"]
    return next(t for t in TASKS if t["prompt"] in text)

def canonical(body):
    t = _task(body)
    # the whole function, fenced, with prose around it
    return ("Here is my implementation:\\n\\n```python\\n" + t["prompt"] + t["canonical_solution"]
            + "```\\n\\nIt handles the edge cases in the docstring.")

def wrong(body):
    t = _task(body)
    return "```python\\n" + t["prompt"] + "    return None\\n```"

def half(body):
    calls["n"] += 1
    return canonical(body) if calls["n"] % 2 else wrong(body)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def mock_server(tmp_path, datasets_dir):
    started = []

    def start(func: str) -> str:
        responder = tmp_path / "responder.py"
        responder.write_text(RESPONDER)
        port = _free_port()
        env = {**os.environ, "HUMANEVAL_FILE": str(datasets_dir / "humaneval" / "HumanEval.jsonl.gz")}
        proc = subprocess.Popen([sys.executable, "-m", "evalpack", "mock", "--port", str(port),
                                 "--model", "mock", "--responder", f"{responder}:{func}"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                return url
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode())
                time.sleep(0.1)
        raise RuntimeError("mock server did not start")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def _eval(url: str, datasets_dir: Path, work: Path, *extra: str) -> dict:
    cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", url,
           "--datasets", "humaneval", "--dataset-dir", str(datasets_dir), "--work-dir", str(work),
           "--quiet", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OPENAI_API_KEY": "sk-should-never-reach-a-program"})
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1].split("run directory:")[1].strip())
    report = json.loads((run_dir / "report.json").read_text())
    section = report["datasets"][0]
    section["markdown"] = (run_dir / "report.md").read_text()
    section["samples"] = [json.loads(l) for l in (run_dir / "samples" / "humaneval.jsonl").open()]
    return section


def test_all_164_canonical_solutions_pass_through_the_pipeline(mock_server, datasets_dir, tmp_path):
    section = _eval(mock_server("canonical"), datasets_dir, tmp_path)
    assert section["num_scored"] == 164 and section["num_errors"] == 0, section["markdown"]
    assert section["metrics"] == {"pass@1": 1.0}, section["markdown"]
    assert section["status_counts"]["passed"] == 164
    assert "execution: 164 passed, 0 failed, 0 timed out, 0 sandbox error" in section["markdown"]
    detail = section["samples"][0]["detail"]
    assert detail["status"] == "passed" and detail["isolation"]


def test_164_wrong_completions_fail_with_their_stderr_recorded(mock_server, datasets_dir, tmp_path):
    section = _eval(mock_server("wrong"), datasets_dir, tmp_path)
    assert section["num_scored"] == 164 and section["metrics"]["pass@1"] == 0.0
    assert section["status_counts"]["failed"] == 164
    tails = [s["detail"]["stderr_tail"] for s in section["samples"]]
    assert all("Error" in t for t in tails)  # AssertionError / TypeError ... from the tests
    assert "HumanEval/0 #0 failed" in section["markdown"]


def test_n_samples_per_task_give_pass_at_1_5_10(mock_server, datasets_dir, tmp_path):
    section = _eval(mock_server("half"), datasets_dir, tmp_path, "--limit", "3",
                    "--dataset-args", '{"humaneval": {"n": 10}}',
                    "--generation-config", '{"temperature": 0.8}')
    assert section["num_scored"] == 30
    m = section["metrics"]
    assert set(m) == {"pass@1", "pass@5", "pass@10"}
    assert m["pass@1"] == pytest.approx(0.5)  # every other reply is right
    assert m["pass@1"] <= m["pass@5"] <= m["pass@10"] <= 1.0
