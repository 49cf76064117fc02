"""IFEval through the CLI: `evalpack eval` against `evalpack mock --responder` on 127.0.0.1,
on the real 541 prompts and the real punkt_tab model in ../shared/datasets.

The replies come from tests/responders/ifeval.py; the verdicts they must get are lm-eval's
(tests/fixtures/ifeval/upstream_verdicts.json, written by scripts/ifeval_agreement.py), an
implementation independent of evalpack's. '?' marks the two letter_frequency verdicts where
lm-eval departs from google-research's rule (see that script); they are not compared.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import MockProcess, SRC, run_evalpack
from knowledge_support import run_eval, samples

RESPONDER = Path(__file__).parent / "responders" / "ifeval.py"
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "ifeval" / "upstream_verdicts.json")
                     .read_text(encoding="utf-8"))["verdicts"]


@pytest.fixture(scope="module")
def replay(datasets_dir, tmp_path_factory):
    """run(responder_function, *extra eval args) -> (report section, samples by id)."""
    servers = []

    def run(func: str, *extra: str):
        server = MockProcess("--responder", f"{RESPONDER}:{func}")
        servers.append(server)
        section, run_dir = run_eval(server.url, "ifeval", datasets_dir, tmp_path_factory.mktemp(func),
                                    "--eval-batch-size", "16", *extra)
        run.last_dir = run_dir
        return section, samples(run_dir, "ifeval")

    yield run
    for s in servers:
        s.stop()


def expected(variant: str, key: str, got: dict) -> tuple[list, list]:
    """Upstream's verdicts of one sample; '?' takes evalpack's own (not compared)."""
    strict, loose = FIXTURE[variant][key]
    pick = lambda codes, ours: [o if c == "?" else c == "T" for c, o in zip(codes, ours)]  # noqa: E731
    return pick(strict, got["strict"]), pick(loose, got["loose"])


def check_against_upstream(variant: str, section: dict, rows: dict, n: int = 541) -> None:
    assert section["num_samples"] == n and section["num_scored"] == n and section["num_errors"] == 0
    prompt_strict = prompt_loose = 0
    inst_strict, inst_loose = [], []
    for key, row in rows.items():
        strict, loose = expected(variant, key, row["detail"])
        assert row["detail"]["strict"] == strict and row["detail"]["loose"] == loose, (key, row["output"])
        assert row["score"] == float(all(strict))
        prompt_strict += all(strict)
        prompt_loose += all(loose)
        inst_strict += strict
        inst_loose += loose
    m = section["metrics"]
    assert m["prompt_level_strict"] == pytest.approx(prompt_strict / n) == section["score"]
    assert m["prompt_level_loose"] == pytest.approx(prompt_loose / n)
    assert m["inst_level_strict"] == pytest.approx(sum(inst_strict) / len(inst_strict))
    assert m["inst_level_loose"] == pytest.approx(sum(inst_loose) / len(inst_loose))
    assert section["num_instructions"] == len(inst_strict) == (834 if n == 541 else len(inst_strict))


def test_gold_replay_scores_what_upstreams_checker_scores(replay):
    section, rows = replay("comply")
    check_against_upstream("comply", section, rows)
    m = section["metrics"]
    assert 0.5 < m["prompt_level_strict"] < 1 and m["inst_level_loose"] >= m["inst_level_strict"]
    # the breakdown: every one of the 25 instruction types, with upstream's counts
    per_type = {r["name"]: r for r in section["groups"]["instruction (strict)"]}
    assert len(per_type) == 25 and per_type["punctuation:no_comma"]["num"] == 66
    assert per_type["length_constraints:number_sentences"]["num"] == 52
    groups = {r["name"] for r in section["groups"]["instruction group (loose)"]}
    assert groups == {"change_case", "combination", "detectable_content", "detectable_format", "keywords",
                      "language", "length_constraints", "punctuation", "startend"}
    # rescoring reads no dataset dir, yet finds the punkt model and gives the same numbers
    proc = run_evalpack("rescore", str(replay.last_dir), "--quiet")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((replay.last_dir / "report.json").read_text())["datasets"][0]
    assert again["metrics"] == m and again["num_errors"] == 0


def test_wrapped_replies_are_forgiven_only_by_the_loose_checker(replay):
    section, rows = replay("wrapped", "--limit", "200")
    check_against_upstream("wrapped", section, rows, n=200)
    m = section["metrics"]
    assert m["prompt_level_loose"] > m["prompt_level_strict"]


def test_empty_replies_follow_nothing(replay):
    section, rows = replay("empty")
    m = section["metrics"]
    assert section["num_scored"] == 541 and section["score"] == 0.0
    assert m == {"prompt_level_strict": 0.0, "inst_level_strict": 0.0, "prompt_level_loose": 0.0,
                 "inst_level_loose": 0.0}


def test_a_compliant_decoy_inside_think_is_not_graded(replay):
    section, rows = replay("think_decoy", "--limit", "80")
    assert section["num_scored"] == 80
    for key, row in rows.items():  # graded as the "mixed" reply after </think>, never the decoy
        strict, loose = expected("mixed", key, row["detail"])
        assert row["detail"]["strict"] == strict and row["detail"]["loose"] == loose, key
    assert section["score"] < sum(all(expected("comply", k, r["detail"])[0]) for k, r in rows.items()) / 80


def test_without_the_ifeval_extra_eval_stops_with_the_pip_command(datasets_dir, tmp_path):
    blocker = tmp_path / "blocked"
    (blocker / "langdetect").mkdir(parents=True)
    (blocker / "langdetect" / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    proc = run_evalpack("eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "ifeval",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path / "out"),
                        env={"PYTHONPATH": os.pathsep.join([str(blocker), str(SRC)])})
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'evalpack[ifeval]'" in proc.stderr and "langdetect" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_list_shows_ifeval_with_its_records_and_verified_data(datasets_dir):
    proc = run_evalpack("list", "--dataset-dir", str(datasets_dir), "ifeval")
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in proc.stdout.splitlines() if line.startswith("ifeval"))
    assert "541" in row and row.rstrip().endswith("verified"), proc.stdout


def test_only_the_text_after_reasoning_is_graded():
    from evalpack.benchmarks.ifeval import graded_text

    assert graded_text("<think>draft, with commas</think>\n\nNo commas here") == "No commas here"
    assert graded_text("<think>a</think>b<think>c</think> final") == "final"
    assert graded_text("  <think>cut off while reasoning, no answer yet") == ""
    assert graded_text("An answer that mentions <think> in passing") == "An answer that mentions <think> in passing"
