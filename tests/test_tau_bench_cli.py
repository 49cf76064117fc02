"""tau-bench through the real CLI: `evalpack eval` against `evalpack mock` servers
scripted as agent and user (tests/tau_bench_responder.py), and against the real model."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_dir_of, run_evalpack

HERE = Path(__file__).resolve().parent
RESPONDER = f"{HERE / 'tau_bench_responder.py'}:respond"


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples" / "tau_bench.jsonl").read_text().splitlines()]


def _eval(api_url, datasets_dir, tmp_path, dataset_args, *extra):
    return run_evalpack("eval", "--model", "mock", "--api-url", api_url, "--datasets", "tau_bench",
                        "--dataset-dir", str(datasets_dir), "--dataset-args", json.dumps({"tau_bench": dataset_args}),
                        "--work-dir", str(tmp_path), "--quiet", *extra, timeout=600)


def test_scripted_gold_episodes_score_one_with_pass_hat_k(mock_server, datasets_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TAU_BENCH_DIR", str(datasets_dir / "tau_bench"))
    monkeypatch.setenv("TAU_AGENT_MODE", "replay")
    server = mock_server("--responder", RESPONDER)
    proc = _eval(server.url, datasets_dir, tmp_path, {"repeats": 2}, "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert report["num_errors"] == 0 and report["num_scored"] == 12
    assert report["score"] == 1.0 and report["metrics"]["pass^2"] == 1.0
    assert {row["name"]: row["score"] for row in report["subsets"]} == {"airline": 1.0, "retail": 1.0}
    rows = _rows(run_dir)
    assert len(rows) == 12 and all(r["score"] == 1.0 for r in rows)
    # the transcript is stored with the sample: tool calls, tool results and user turns
    airline0 = next(r for r in rows if r["sample_id"] == "airline_0" and r["repeat"] == 0)
    messages = airline0["output"]["messages"]
    assert messages[0]["role"] == "system" and messages[0]["content"].startswith("# Airline Agent Policy")
    assert messages[1] == {"role": "user", "content": "Hello, this is task airline_0."}
    booking = json.loads(messages[3]["content"])
    assert messages[2]["tool_calls"][0]["function"]["name"] == "book_reservation"
    assert booking["reservation_id"] == "HATHAT" and messages[3]["role"] == "tool"
    assert messages[-1] == {"role": "user", "content": "###STOP###"}
    assert airline0["output"]["end_reason"] == "user_stop"
    assert airline0["output"]["final_hash"] == airline0["output"]["gold_hash"]

    # rescoring the stored outputs needs no server and gives the same numbers
    server.stop()
    again = run_evalpack("rescore", str(run_dir), "--quiet")
    assert again.returncode == 0, again.stderr
    rescored = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert rescored["score"] == 1.0 and rescored["metrics"]["pass^2"] == 1.0


def test_user_model_runs_on_its_own_endpoint_and_key(mock_server, datasets_dir, tmp_path, monkeypatch):
    """extra_params.user_model/api_base/api_key route the simulated user to a second server;
    an agent that does nothing scores 0 on tasks that need a database change."""
    monkeypatch.setenv("TAU_BENCH_DIR", str(datasets_dir / "tau_bench"))
    monkeypatch.setenv("TAU_AGENT_MODE", "idle")
    agent = mock_server("--responder", RESPONDER)
    user = mock_server("--responder", RESPONDER, "--api-key", "user-secret-key-123", model="sim-user")
    proc = _eval(agent.url, datasets_dir, tmp_path,
                 {"subset_list": ["retail"], "extra_params": {
                     "user_model": "sim-user", "api_base": user.url, "api_key": "user-secret-key-123",
                     "max_steps": 5}},
                 "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    rows = _rows(run_dir)
    assert [r["score"] for r in rows] == [0.0, 0.0]  # retail_0 and retail_1 both need changes
    assert all(r["output"]["end_reason"] == "user_stop" for r in rows)
    # 2 episodes: the user spoke twice each (opening + stop), the agent once each
    assert user.stats()["chat_requests"] == 4
    assert agent.stats()["chat_requests"] == 2
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"user-secret-key-123" not in path.read_bytes(), path


def test_an_episode_against_the_real_model_runs_to_the_end(real_model_url, datasets_dir, tmp_path):
    """SmolLM2-135M as both agent and user: the score is low, but it is computed.
    Airline's policy plus tool schemas take ~4,000 of the server's 4,096 tokens, so the
    step limit and reply length are small."""
    proc = run_evalpack("eval", "--model", "smollm2-135m-instruct", "--api-url", real_model_url,
                        "--datasets", "tau_bench", "--dataset-dir", str(datasets_dir), "--limit", "1",
                        "--dataset-args", json.dumps({"tau_bench": {"subset_list": ["airline"],
                                                                     "extra_params": {"max_steps": 2}}}),
                        "--generation-config", '{"temperature": 0, "max_tokens": 12, "timeout": 600}',
                        "--work-dir", str(tmp_path), "--quiet", timeout=1500)
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert report["num_errors"] == 0 and report["num_scored"] == 1 and report["score"] is not None
    (row,) = _rows(run_dir)
    output = row["output"]
    assert output["end_reason"] in ("max_steps", "user_stop", "transfer")
    assert output["messages"][0]["role"] == "system" and output["messages"][1]["role"] == "user"
    assert sum(1 for m in output["messages"] if m["role"] == "assistant") >= 1
    assert row["usage"]["prompt_tokens"] > 3000 and output["user_usage"]["prompt_tokens"] > 0
    assert row["score"] in (0.0, 1.0) and row["score"] == float(output["final_hash"] == output["gold_hash"]
                                                                and output["end_reason"] != "max_steps")
