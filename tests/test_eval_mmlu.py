"""`evalpack eval` end to end on the real MMLU files, over real HTTP to `evalpack mock`."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import gate_responder, run_dir_of, run_evalpack, wait_until


def gold_letters(datasets_dir: Path, subjects: list[str] | None = None) -> dict[str, list[str]]:
    """subject -> gold letters of its test split, read straight from the CSVs."""
    out = {}
    for f in sorted((datasets_dir / "mmlu" / "data" / "test").glob("*_test.csv")):
        subject = f.name[: -len("_test.csv")]
        if subjects is None or subject in subjects:
            with open(f, newline="", encoding="utf-8") as fh:
                out[subject] = [row[5].strip() for row in csv.reader(fh) if row]
    return out


def eval_args(url: str, datasets_dir: Path, work_dir: Path, *extra: str) -> list[str]:
    return ["eval", "--model", "mock", "--api-url", url, "--datasets", "mmlu",
            "--dataset-dir", str(datasets_dir), "--work-dir", str(work_dir), "--quiet", *extra]


def test_full_mmlu_accuracy_is_the_share_of_the_fixed_letter(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "ANSWER: C")
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--eval-batch-size", "64"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir_of(proc) / "report.json").read_text())
    mmlu = report["datasets"][0]

    golds = gold_letters(datasets_dir)
    letters = [g for gs in golds.values() for g in gs]
    assert len(letters) == 14042
    assert mmlu["num_samples"] == 14042 and mmlu["num_scored"] == 14042 and mmlu["num_errors"] == 0
    assert mmlu["score"] == pytest.approx(letters.count("C") / len(letters), abs=1e-12)
    per_subject = {row["name"]: row for row in mmlu["subsets"]}
    assert len(per_subject) == 57
    for subject, gs in golds.items():
        assert per_subject[subject]["num"] == len(gs)
        assert per_subject[subject]["score"] == pytest.approx(gs.count("C") / len(gs), abs=1e-12)
    macro = sum(gs.count("C") / len(gs) for gs in golds.values()) / 57
    assert mmlu["metrics"]["accuracy_macro"] == pytest.approx(macro, abs=1e-12)
    assert {row["name"] for row in mmlu["groups"]["category"]} == {"STEM", "Humanities", "Social Sciences", "Other"}
    assert sum(row["num"] for row in mmlu["groups"]["category"]) == 14042
    assert server.stats()["chat_requests"] == 14042
    assert (run_dir_of(proc) / "report.md").read_text().startswith("| Model | Dataset |")


def test_limit_is_per_subject_and_few_shot_comes_from_dev(mock_server, datasets_dir, tmp_path):
    seen = tmp_path / "seen.jsonl"
    responder = tmp_path / "responder.py"
    responder.write_text(
        "import json\n"
        f"LOG = {str(seen)!r}\n"
        "def respond(body):\n"
        "    with open(LOG, 'a') as f:\n"
        "        f.write(json.dumps(body['messages']) + '\\n')\n"
        "    return 'ANSWER: B'\n")
    server = mock_server("--responder", f"{responder}:respond")
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path / "out", "--limit", "3",
                                   "--dataset-args", '{"mmlu": {"subset_list": ["anatomy", "virology"]}}'))
    assert proc.returncode == 0, proc.stderr
    prompts = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(prompts) == 6
    dev = list(csv.reader(open(datasets_dir / "mmlu/data/dev/anatomy_dev.csv", newline="", encoding="utf-8")))
    anatomy = [p[0]["content"] for p in prompts if "about anatomy" in p[0]["content"]]
    assert len(anatomy) == 3
    for text in anatomy:  # all five dev questions, in order, each with its answer
        positions = [text.index(row[0].strip()) for row in dev]
        assert positions == sorted(positions)
        assert text.count("ANSWER: ") == 5 + 1  # 5 shots + the instruction's format line

    proc0 = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path / "out0", "--limit", "2",
                                    "--dataset-args", '{"mmlu": {"few_shot_num": 0, "subset_list": ["anatomy"]}}'))
    assert proc0.returncode == 0, proc0.stderr
    zero_shot = json.loads(seen.read_text().splitlines()[-1])[0]["content"]
    assert dev[0][0].strip() not in zero_shot


def test_resume_after_kill_resends_nothing_already_answered(mock_server, datasets_dir, tmp_path):
    subjects = ["anatomy", "astronomy", "virology"]  # 135 + 152 + 166 questions
    total = sum(len(v) for v in gold_letters(datasets_dir, subjects).values())
    answered, concurrency = total // 3, 4
    gated = mock_server("--responder", gate_responder(tmp_path, answered, "The answer is (D)."))
    args = ["--eval-batch-size", str(concurrency), "--dataset-args",
            json.dumps({"mmlu": {"subset_list": subjects, "few_shot_num": 0}})]
    proc = subprocess.Popen([sys.executable, "-m", "evalpack", *eval_args(gated.url, datasets_dir, tmp_path, *args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # every worker holds a request the server will not answer: all `answered` replies were received
    wait_until(lambda: gated.stats()["chat_requests"] >= answered + concurrency, "the gate to fill")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = sqlite3.connect(next(tmp_path.glob("*/run.db"))).execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    assert stored == answered  # group commit: a received reply is durable before the next request

    server = mock_server("--answer", "The answer is (D).")  # same settings, same run directory
    again = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, *args))
    assert again.returncode == 0, again.stderr
    assert server.stats()["chat_requests"] == total - answered  # only what was in flight is asked again
    report = json.loads((run_dir_of(again) / "report.json").read_text())["datasets"][0]
    assert report["num_scored"] == total
    golds = [g for gs in gold_letters(datasets_dir, subjects).values() for g in gs]
    assert report["score"] == pytest.approx(golds.count("D") / total)

    server.reset()  # a third run has nothing left to ask
    third = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, *args))
    assert third.returncode == 0 and server.stats()["chat_requests"] == 0


def test_rescore_needs_no_server_and_gives_the_same_report(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "I think the correct option is B.")
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "5"))
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    before = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    server.stop()
    re = run_evalpack("rescore", str(run_dir), "--quiet")
    assert re.returncode == 0, re.stderr
    after = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert after["score"] == before["score"] and after["num_scored"] == before["num_scored"] == 57 * 5
    assert after["subsets"] == before["subsets"]


def test_transient_failures_are_retried_and_permanent_ones_reported_apart(mock_server, datasets_dir, tmp_path):
    responder = tmp_path / "flaky.py"
    responder.write_text(
        "import collections\n"
        "seen = collections.Counter()\n"
        "def respond(body):\n"
        "    q = body['messages'][-1]['content']\n"
        "    seen[q] += 1\n"
        "    if 'A \"dished face\" profile' in q:\n"
        "        return {'status': 500, 'content': 'always broken'}\n"
        "    if seen[q] == 1:\n"
        "        return {'status': 429, 'retry_after': 0, 'content': 'slow down'}\n"
        "    if seen[q] == 2:\n"
        "        return {'status': 503, 'content': 'busy'}\n"
        "    return 'ANSWER: A'\n")
    server = mock_server("--responder", f"{responder}:respond")
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "10", "--dataset-args",
                                   '{"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}',
                                   "--generation-config", '{"retries": 2, "retry_interval": 0.01}'))
    # an errored sample makes the exit code non-zero (1), naming the way out
    assert proc.returncode == 1 and "--ignore-errors" in proc.stderr and "Traceback" not in proc.stderr
    report = json.loads((run_dir_of(proc) / "report.json").read_text())["datasets"][0]
    golds = gold_letters(datasets_dir, ["anatomy"])["anatomy"][:10]
    rows = list(csv.reader(open(datasets_dir / "mmlu/data/test/anatomy_test.csv", newline="", encoding="utf-8")))[:10]
    broken = [i for i, r in enumerate(rows) if "A \"dished face\" profile" in r[0]]
    assert len(broken) == 1
    assert report["num_errors"] == 1 and report["error_ids"] == [f"anatomy/{broken[0]}"]
    ok = [g for i, g in enumerate(golds) if i not in broken]
    assert report["num_scored"] == 9
    assert report["score"] == pytest.approx(ok.count("A") / 9)
    assert "failed after all retries" in (run_dir_of(proc) / "report.md").read_text()


def test_streaming_and_replicas(mock_server, datasets_dir, tmp_path):
    a, b = mock_server("--answer", "ANSWER: B"), mock_server("--answer", "ANSWER: B")
    proc = run_evalpack(*eval_args(a.url, datasets_dir, tmp_path, "--limit", "4", "--stream"),
                        "--api-url", a.url, b.url)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir_of(proc) / "report.json").read_text())["datasets"][0]
    golds = gold_letters(datasets_dir)
    letters = [g for gs in golds.values() for g in gs[:4]]
    assert report["score"] == pytest.approx(letters.count("B") / len(letters))
    sa, sb = a.stats()["chat_requests"], b.stats()["chat_requests"]
    assert sa + sb == 57 * 4 and sa > 20 and sb > 20


def test_api_key_is_used_but_never_written(mock_server, datasets_dir, tmp_path):
    secret = "sk-test-7f3a9c1e5b"
    server = mock_server("--api-key", secret)
    bad = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "1", "--api-key", "wrong"))
    assert bad.returncode != 0 and "API key" in bad.stderr and "Traceback" not in bad.stderr
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "1", "--api-key", secret,
                                   "--dataset-args", '{"mmlu": {"subset_list": ["anatomy"]}}'))
    assert proc.returncode == 0, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f


def test_yaml_config_with_flag_override(mock_server, datasets_dir, tmp_path):
    server = mock_server("--answer", "ANSWER: D")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"model: mock\napi_url: {server.url}\ndatasets: [mmlu]\ndataset_dir: {datasets_dir}\n"
                   f"dataset_args:\n  mmlu:\n    subset_list: [anatomy]\n    few_shot_num: 0\n"
                   f"limit: 50\ngeneration_config:\n  temperature: 0\n  max_tokens: 16\n"
                   f"work_dir: {tmp_path / 'out'}\neval_type: openai_api\n")
    proc = run_evalpack("eval", "--config", str(cfg), "--limit", "7", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir_of(proc) / "report.json").read_text())["datasets"][0]
    assert report["num_scored"] == 7


@pytest.mark.parametrize("extra, message", [
    (["--datasets", "mmlux"], "unknown dataset 'mmlux'"),
    (["--dataset-args", "{mmlu: 1"], "--dataset-args is not valid JSON"),
    (["--generation-config", '{"temprature": 0}'], "unknown key 'temprature'"),
    (["--dataset-args", '{"mmlu": {"few_shots": 3}}'], "unknown key 'few_shots' for mmlu"),
    (["--dataset-args", '{"mmlu": {"subset_list": ["anatomyy"]}}'], "has no subset 'anatomyy'"),
    (["--limit", "ten"], "--limit must be a number"),
    (["--eval-type", "checkpoint"], "--eval-type 'checkpoint' is not supported"),
])
def test_bad_input_is_one_sentence_and_exit_2(mock_server, datasets_dir, tmp_path, extra, message):
    server = mock_server()
    args = eval_args(server.url, datasets_dir, tmp_path)
    # later flags win in argparse, so the bad value overrides the good one
    proc = run_evalpack(*args, *extra)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert server.stats()["chat_requests"] == 0


def test_bad_yaml_key_and_missing_model(tmp_path, datasets_dir):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: m\napi_url: http://127.0.0.1:9/v1\ndatasets: [mmlu]\nbatch_size: 4\n")
    proc = run_evalpack("eval", "--config", str(cfg))
    assert proc.returncode == 2 and "unknown key batch_size" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_evalpack("eval", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "mmlu")
    assert proc.returncode == 2 and "no --model given" in proc.stderr


def test_unknown_model_lists_what_the_server_serves(mock_server, datasets_dir, tmp_path):
    server = mock_server(model="qwen2.5-7b")
    proc = run_evalpack(*eval_args(server.url, datasets_dir, tmp_path, "--limit", "1"))
    assert proc.returncode == 3
    assert "model 'mock' is not served" in proc.stderr and "qwen2.5-7b" in proc.stderr
    assert server.stats()["chat_requests"] == 0


def test_unreachable_server_is_a_clear_error(datasets_dir, tmp_path):
    from conftest import free_port

    proc = run_evalpack(*eval_args(f"http://127.0.0.1:{free_port()}/v1", datasets_dir, tmp_path, "--limit", "1"))
    assert proc.returncode == 3 and "cannot reach the model server" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_runs_with_nothing_set_up(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EVALPACK_DATA"}
    proc = subprocess.run([sys.executable, "-m", "evalpack", "demo", "--work-dir", str(tmp_path), "--quiet"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir_of(proc) / "report.json").read_text())["datasets"][0]
    assert report["num_scored"] == 24 and report["num_unparsed"] == 0


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "background"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_what_was_answered(mock_server, datasets_dir, tmp_path, sig, sigint_ignored):
    if sig == signal.SIGINT and sigint_ignored:
        pytest.skip("an ignored SIGINT is meant to be ignored")
    answered, concurrency = 60, 4
    server = mock_server("--responder", gate_responder(tmp_path, answered))
    args = eval_args(server.url, datasets_dir, tmp_path, "--eval-batch-size", str(concurrency), "--dataset-args",
                     '{"mmlu": {"subset_list": ["anatomy", "virology"], "few_shot_num": 0}}')
    # `cmd &` in a script or CI job starts the process with SIGINT ignored: SIGTERM must still work.
    # A shell's foreground job gets SIGINT at its default and unblocked: set both, so neither the
    # test runner's own signal state nor a thread's mask leaks into the child through fork.
    def shell_job():
        signal.signal(signal.SIGINT, signal.SIG_IGN if sigint_ignored else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}  # SIGABRT on a hang prints every thread's stack
    proc = subprocess.Popen([sys.executable, "-m", "evalpack", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=shell_job, env=env)
    wait_until(lambda: server.stats()["chat_requests"] >= answered + concurrency, "the gate to fill")
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        log = "".join(p.read_text(errors="replace")[-4000:] for p in tmp_path.glob("*/evalpack.log"))
        pytest.fail(f"no exit within 60 s of signal {sig}; stacks:\n{err[-8000:]}\nevalpack.log:\n{log}")
    assert proc.returncode == 130 and "run the same command again to resume" in err
    assert "Traceback" not in err
    db = next(tmp_path.glob("*/run.db"))
    stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM results WHERE error IS NULL").fetchone()[0]
    assert stored == answered  # everything answered before the signal is kept, nothing else
