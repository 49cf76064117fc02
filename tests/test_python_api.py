"""The Python API (evalpack.evaluate / evaluate_async / load_run) over real HTTP to `evalpack mock`."""

from __future__ import annotations

import asyncio
import csv
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

import evalpack
from conftest import REPO
from evalpack.errors import UsageError

SUBJECTS = ["anatomy", "astronomy"]


def gold(datasets_dir: Path, subject: str, limit: int) -> list[str]:
    with open(datasets_dir / "mmlu" / "data" / "test" / f"{subject}_test.csv", newline="", encoding="utf-8") as fh:
        return [row[5].strip() for row in csv.reader(fh) if row][:limit]


def run(server, datasets_dir, tmp_path, **extra):
    return evalpack.evaluate(model="mock", api_url=server.url, datasets=["mmlu"],
                             dataset_args={"mmlu": {"subset_list": SUBJECTS}}, limit=4,
                             work_dir=tmp_path, dataset_dir=datasets_dir, **extra)


def test_evaluate_scores_resumes_and_load_run_reads_the_same(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "ANSWER: C")
    result = run(server, datasets_dir, tmp_path)
    golds = {s: gold(datasets_dir, s, 4) for s in SUBJECTS}
    mmlu = result["mmlu"]
    for s in SUBJECTS:
        assert mmlu.subsets[s].score == pytest.approx(golds[s].count("C") / 4)
        assert mmlu.subsets[s].num == 4
    expected = sum(g.count("C") for g in golds.values()) / 8
    assert mmlu.score == pytest.approx(expected)
    assert mmlu.num_samples == 8 and mmlu.num_errors == 0
    assert mmlu.ci_low <= mmlu.score <= mmlu.ci_high and mmlu.stderr is not None
    assert (result.run_dir / "report.json").is_file()
    rows = list(result.samples("mmlu"))
    assert len(rows) == 8 and {r["extracted"] for r in rows} == {"C"}

    sent = server.stats()["chat_requests"]
    assert sent == 8
    again = run(server, datasets_dir, tmp_path)  # same settings: the same run directory, nothing to send
    assert server.stats()["chat_requests"] == sent
    assert again.run_dir == result.run_dir and again == result

    assert evalpack.load_run(result.run_dir) == result
    # each finished run lets go of its log file, so the next run in this process logs only to its own
    assert not [h for h in logging.getLogger("evalpack").handlers if isinstance(h, logging.FileHandler)]


def test_evaluate_async_runs_on_the_callers_loop(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "ANSWER: B")

    async def main():
        return await evalpack.evaluate_async(model="mock", api_url=server.url, datasets="mmlu", limit=2,
                                             dataset_args={"mmlu": {"subset_list": ["anatomy"]}},
                                             work_dir=str(tmp_path), dataset_dir=datasets_dir)

    result = asyncio.run(main())
    assert result["mmlu"].score == pytest.approx(gold(datasets_dir, "anatomy", 2).count("B") / 2)


def test_bad_arguments_raise_usage_error_with_the_clis_sentence(tmp_path):
    with pytest.raises(UsageError, match=r"no --api-url given"):
        evalpack.evaluate(model="m", datasets=["mmlu"], work_dir=tmp_path)
    with pytest.raises(UsageError, match=r"--limit must be"):
        evalpack.evaluate(model="m", api_url="http://127.0.0.1:9/v1", datasets=["mmlu"], limit=2.5)
    with pytest.raises(UsageError, match=r"unknown argument limt"):
        evalpack.evaluate(model="m", api_url="http://127.0.0.1:9/v1", datasets=["mmlu"], limt=2)
    assert not any(tmp_path.iterdir())  # nothing was made


def test_readme_example_runs(mock_server, datasets_dir, tmp_path):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    server = mock_server("--answer", "ANSWER: A")
    code = code.replace("http://127.0.0.1:8000/v1", server.url)
    assert server.url in code  # the example points at the usual local server URL
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "EVALPACK_DATA": str(datasets_dir)})
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"mmlu \d\.\d+ \[", proc.stdout), proc.stdout
