"""HumanEval+ and MBPP+: the value codec, evalplus's comparison rules, MBPP+ input types, and the
pipeline through the CLI (`evalpack eval` against `evalpack mock` on 127.0.0.1, real sandbox).

The end-to-end runs use a reduced copy of the real release files (chosen tasks, records
unchanged, marked as sample data) so they stay in seconds; the full replay's numbers are in
docs/evalplus.md.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import MockProcess
from evalpack.benchmarks import registry
from evalpack.benchmarks.evalplus import mbpp_inputs
from evalpack.errors import UsageError
from evalpack.scoring import diff_harness
from evalpack.scoring.evalplus_check import allclose, check_phase, phase_budget, time_limits

RESPONDERS = Path(__file__).parent / "responders" / "code.py"
HUMANEVAL_TASKS = ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/4", "HumanEval/32", "HumanEval/53"]
MBPP_TASKS = ["Mbpp/2", "Mbpp/82", "Mbpp/124", "Mbpp/580", "Mbpp/581", "Mbpp/737", "Mbpp/793"]


# --- codec ----------------------------------------------------------------------------------

def test_codec_keeps_python_types_apart():
    values = [(1, [2, (3,)]), {1, 2}, frozenset({"a"}), {(1, 2): [1.5], "k": None}, 3 + 4j, b"\x00\xff",
              10 ** 5000, -(10 ** 400), float("inf"), -0.0, True, 1, 1.0, "é\ud800", [], ()]
    back = diff_harness.decode(diff_harness.encode(values))
    assert back == values
    assert [type(v) for v in back] == [type(v) for v in values]
    assert math.copysign(1, back[9]) == -1 and back[10] is True
    nan = diff_harness.decode(diff_harness.encode(float("nan")))
    assert math.isnan(nan)
    opaque = diff_harness.decode(diff_harness.encode(iter([1])))
    assert opaque != opaque and opaque is not None  # equal to nothing, like a foreign object


def test_large_outputs_compare_by_digest_with_python_equality():
    def wire(value):
        return diff_harness.from_plain(json.loads(json.dumps(diff_harness.to_wire(value))))

    pairs = [(i, str(i)) for i in range(40000)]
    assert isinstance(wire(pairs), diff_harness.Digest)
    assert wire(pairs) == wire([tuple(p) for p in pairs]) and wire(pairs) != wire(pairs[:-1])
    assert wire(pairs) != wire([list(p) for p in pairs])  # a list is not a tuple
    words = {f"w{i}" for i in range(20000)}
    assert wire(words) == wire(set(sorted(words, reverse=True)))  # any order
    assert wire({i: 1.0 for i in range(20000)}) == wire({i: 1 for i in reversed(range(20000))})
    assert wire(pairs) != pairs  # a digest never equals a plain value


def test_forged_or_repeated_records_are_rejected():
    record = diff_harness.RECORD + json.dumps({"phase": "base", "outputs": []})
    assert diff_harness.parse_records(record + "\n", ["base", "plus"])[0]["phase"] == "base"
    for bad in (record + "\n" + record + "\n", "hello\n" + record, record.replace("base", "plus") + "\n" + record):
        with pytest.raises(ValueError):
            diff_harness.parse_records(bad, ["base", "plus"])


# --- evalplus's rules ------------------------------------------------------------------------

def test_float_outputs_get_atol_1e6_and_it_sticks_for_later_inputs():
    # atol 0 + a float expected: 1e-6 from then on, also for a later list of ints
    assert check_phase("humaneval", "f", [[1], [2]], [1.0000001, [1, 2.0000001]], [1.0, [1, 2]], 0).passed
    # before any float was expected, ints must be exact
    assert not check_phase("humaneval", "f", [[1], [2]], [[1, 2.0000001], 1.0], [[1, 2], 1.0], 0).passed
    v = check_phase("humaneval", "f", [[1], [2]], [1.0, 1.1], [1.0, 1.0], 0)
    assert not v.passed and v.failed_at == 1 and "got 1.1" in v.reason
    # the allclose branch wants the same type and length
    assert not check_phase("humaneval", "f", [[1]], [(1.0,)], [[1.0]], 1e-6).passed
    assert not check_phase("humaneval", "f", [[1]], [[1.0]], [[1.0, 2.0]], 1e-6).passed
    assert check_phase("humaneval", "f", [[1]], [[1.0, 2.0000001]], [[1.0, 2.0]], 1e-6).passed


def test_allclose_follows_numpy():
    assert allclose(1e9, 1e9 + 50, rtol=1e-7, atol=0)  # rtol * |expected| = 100
    assert not allclose(float("nan"), float("nan"), rtol=1e-7, atol=1)
    assert allclose(float("inf"), float("inf"), rtol=1e-7, atol=1)
    assert not allclose(float("inf"), 1e308, rtol=1e-7, atol=1)
    assert allclose([[1.0, 2.0]], [[1.0, 2.0 + 1e-9]], rtol=1e-7, atol=0)
    assert not allclose("a", "a", rtol=1e-7, atol=1) and not allclose([1, [2]], [1, [2]], rtol=0, atol=1)


def test_special_oracles():
    # find_zero: any x with |poly(xs, x)| <= atol passes, whatever the canonical root was
    assert check_phase("humaneval", "find_zero", [[[-6, 11, -6, 1]]], [3.0], [1.0], 1e-4).passed
    assert not check_phase("humaneval", "find_zero", [[[-6, 11, -6, 1]]], [2.5], [1.0], 1e-4).passed
    assert check_phase("mbpp", "similar_elements", [[(1, 2), (2, 1)]], [(2, 1)], [(1, 2)], 0).passed
    assert check_phase("mbpp", "check_str", [["a"]], [diff_harness.Opaque("re.Match")], [True], 0).passed
    assert not check_phase("mbpp", "check_str", [["a"]], [None], [True], 0).passed
    assert check_phase("mbpp", "sum_div", [[7]], [0], [1], 0).passed
    assert check_phase("mbpp", "surface_Area", [[3, 4]], [35], [33], 0).passed  # evalplus's own formula


def test_time_limits_are_evalplus_defaults():
    assert time_limits([0.001, 2.0]) == [4.0, 8.0]
    assert time_limits([0.5], min_time_limit=1, factor=3) == [1.5]
    assert phase_budget([4.0] * 1000) == 61 and phase_budget([4.0, 8.0]) == 13


def test_mbpp_plus_inputs_get_their_tuples_sets_and_complex_numbers(datasets_dir):
    with gzip.open(datasets_dir / "mbppplus" / "MbppPlus.jsonl.gz", "rt") as f:
        tasks = {t["task_id"]: t for t in map(json.loads, f)}
    assert mbpp_inputs(2, tasks["Mbpp/2"]["base_input"])[0] == [(3, 4, 5, 6), (5, 7, 4, 10)]
    assert isinstance(mbpp_inputs(124, tasks["Mbpp/124"]["base_input"])[0][1], complex)
    assert isinstance(mbpp_inputs(580, tasks["Mbpp/580"]["base_input"])[0][0][2], tuple)
    assert mbpp_inputs(115, [[[[1], []]]]) == [[[{1}, {}]]]
    assert mbpp_inputs(999, [[1]]) == [[1]]


def test_dataset_args_are_checked():
    bench = registry.get("humaneval_plus")
    assert bench.resolve_args({"n": 5})["repeats"] == 5
    assert bench.resolve_args({"version": "noextreme"})["version"] == "noextreme"
    for bad in ({"version": "v9"}, {"min_time_limit": 0}, {"gt_time_limit_factor": "4"}, {"timeout": 3}):
        with pytest.raises(UsageError):
            bench.resolve_args(bad)
    with pytest.raises(UsageError):
        registry.get("mbpp_plus").resolve_args({"version": "mini"})


# --- end to end --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reduced_data(tmp_path_factory, datasets_dir) -> Path:
    """The chosen tasks' records, byte for byte as upstream wrote them, in a sample dataset dir."""
    root = tmp_path_factory.mktemp("evalplus-data")
    (root / "evalpack-sample.json").write_text(json.dumps({"sample": True, "note": "a few evalplus tasks"}))
    for rel, keep in (("humanevalplus/HumanEvalPlus.jsonl.gz", HUMANEVAL_TASKS),
                      ("mbppplus/MbppPlus.jsonl.gz", MBPP_TASKS)):
        with gzip.open(datasets_dir / rel, "rt", encoding="utf-8") as f:
            lines = [line for line in f if json.loads(line)["task_id"] in keep]
        assert len(lines) == len(keep)
        (root / rel).parent.mkdir(parents=True)
        with gzip.open(root / rel, "wt", encoding="utf-8") as f:
            f.writelines(lines)
    return root


def _eval(responder: str, data: Path, work: Path, datasets=("humaneval_plus", "mbpp_plus"),
          extra_env: dict | None = None) -> dict:
    env = {**os.environ, "EVALPACK_CODE_DATA": str(data), **(extra_env or {})}
    saved = dict(os.environ)
    os.environ.update(env)  # the mock (and its responder) inherit it
    try:
        mock = MockProcess("--responder", f"{RESPONDERS}:{responder}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        cmd = [sys.executable, "-m", "evalpack", "eval", "--model", "mock", "--api-url", mock.url,
               "--datasets", *datasets, "--dataset-dir", str(data), "--work-dir", str(work), "--quiet"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                              env={**env, "OPENAI_API_KEY": "sk-should-never-reach-a-program"})
    finally:
        mock.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1].split("run directory:")[1].strip())
    report = json.loads((run_dir / "report.json").read_text())
    sections = {}
    for section in report["datasets"]:
        name = section["dataset"]
        section["markdown"] = (run_dir / "report.md").read_text()
        section["samples"] = [json.loads(line) for line in (run_dir / "samples" / f"{name}.jsonl").open()]
        sections[name] = section
    return sections


def test_gold_replay_passes_base_and_plus(reduced_data, tmp_path):
    sections = _eval("gold", reduced_data, tmp_path)
    for name, tasks in (("humaneval_plus", HUMANEVAL_TASKS), ("mbpp_plus", MBPP_TASKS)):
        s = sections[name]
        assert s["num_scored"] == len(tasks) and s["num_errors"] == 0, s["markdown"]
        assert s["metrics"] == {"pass@1": 1.0, "base_pass@1": 1.0}, s["markdown"]
        detail = s["samples"][0]["detail"]
        assert detail["base_status"] == detail["plus_status"] == "passed" and detail["isolation"]


def test_wrong_replay_scores_zero_with_the_failing_input(reduced_data, tmp_path):
    sections = _eval("wrong", reduced_data, tmp_path)
    for s in sections.values():
        assert s["metrics"] == {"pass@1": 0.0, "base_pass@1": 0.0}
        for sample in s["samples"]:
            d = sample["detail"]
            assert d["base_status"] == "failed" and d["failed_input"].startswith("base[0]"), d
            assert "wrong output" in d["reason"]


def test_right_on_base_only_passes_base_and_fails_plus(reduced_data, tmp_path):
    sections = _eval("base_only", reduced_data, tmp_path, datasets=("humaneval_plus",))
    s = sections["humaneval_plus"]
    assert s["metrics"] == {"pass@1": 0.0, "base_pass@1": 1.0}, s["markdown"]
    assert all(x["detail"]["failed_input"].startswith("plus[") for x in s["samples"])


def test_hostile_code_is_contained_and_scores_zero(reduced_data, tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    connected = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connected.append(listener.accept())
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        sections = _eval("hostile", reduced_data, tmp_path, datasets=("humaneval_plus",),
                         extra_env={"EVALPACK_HOSTILE_PORT": str(listener.getsockname()[1])})
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    s = sections["humaneval_plus"]
    assert s["metrics"]["pass@1"] == 0.0 and s["metrics"]["base_pass@1"] == 0.0
    assert s["num_errors"] == 0 and not connected
    reasons = " ".join(x["detail"]["reason"] for x in s["samples"])
    assert "wrong output" in reasons or "no output" in reasons  # the forged records did not pass
    assert "Error" in reasons  # socket() refused inside the function
