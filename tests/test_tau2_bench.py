"""tau2_bench: the domains' tools, the reward, and whole episodes through the real CLI
(`evalpack eval` against `evalpack mock` scripted as agent and user by
tests/tau2_bench_responder.py). Agreement with the reference package on every task is
measured by benchmarks/tau2_agreement.py, in a separate venv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_dir_of, run_evalpack

from evalpack.benchmarks.tau2_bench.environment import Environment, load_domain
from evalpack.benchmarks.tau2_bench.evaluation import evaluate
from evalpack.benchmarks.tau2_bench.episode import GREETING
from evalpack.report_html import sample_record

HERE = Path(__file__).resolve().parent
RESPONDER = f"{HERE / 'tau2_bench_responder.py'}:respond"


def _tasks(datasets_dir: Path, domain: str, name: str = "tasks_release_2025-06-10.json") -> dict:
    return {t["id"]: t for t in json.loads((datasets_dir / "tau2_bench" / domain / name).read_text())}


def _env(datasets_dir: Path, domain: str, task: dict | None = None) -> Environment:
    env = Environment.fresh(load_domain(datasets_dir / "tau2_bench", domain))
    env.set_state((task or {}).get("initial_state"))
    return env


def test_airline_tools_answer_as_tau2(datasets_dir):
    env = _env(datasets_dir, "airline")
    # a model is returned as its JSON; a string as it is; an exception as "Error: ..."
    text, error = env.get_response("get_user_details", {"user_id": "mia_li_3668"})
    user = json.loads(text)
    assert not error and user["user_id"] == "mia_li_3668" and list(user)[:3] == ["user_id", "name", "address"]
    assert env.get_response("get_flight_status", {"flight_number": "HAT001", "date": "2024-05-16"}) == ("available", False)
    assert env.get_response("get_user_details", {"user_id": "nobody"}) == ("Error: User nobody not found", True)
    # argument mistakes carry the words Python gives upstream's method
    assert env.get_response("get_user_details", {}) == (
        "Error: AirlineTools.get_user_details() missing 1 required positional argument: 'user_id'", True)
    assert env.get_response("get_user_details", {"user_id": "x", "extra": 1}) == (
        "Error: AirlineTools.get_user_details() got an unexpected keyword argument 'extra'", True)
    assert env.get_response("fly_me", {}) == ("Error: Tool 'fly_me' not found.", True)
    assert env.get_response("calculate", {"expression": "(2 + 3) * 4 / 3"}) == ("6.67", False)
    certificate = env.get_response("send_certificate", {"user_id": "mia_li_3668", "amount": 50})
    assert certificate == ("Certificate certificate_3221322 added to user mia_li_3668 with amount 50.", False)
    # a certificate's amount is a float in tau2's model: the int sent comes back as 50.0
    methods = json.loads(env.get_response("get_user_details", {"user_id": "mia_li_3668"})[0])["payment_methods"]
    assert methods["certificate_3221322"] == {"source": "certificate", "id": "certificate_3221322", "amount": 50.0}


def test_gold_replay_scores_one_and_doing_nothing_scores_what_tau2_scores(datasets_dir):
    data = load_domain(datasets_dir / "tau2_bench", "retail")
    task = _tasks(datasets_dir, "retail")["0"]
    env = _env(datasets_dir, "retail", task)
    trajectory = [{"role": "assistant", "content": GREETING, "tool_calls": None}]
    for i, action in enumerate(task["evaluation_criteria"]["actions"]):
        content, error = env.get_response(action["name"], action["arguments"])
        trajectory += [{"role": "assistant", "content": None,
                        "tool_calls": [{"id": str(i), "name": action["name"], "arguments": action["arguments"]}]},
                       {"role": "tool", "id": str(i), "content": content, "requestor": "assistant", "error": error}]
    said = " ".join(task["evaluation_criteria"].get("communicate_info") or [])
    trajectory += [{"role": "assistant", "content": f"Done. {said}", "tool_calls": None},
                   {"role": "user", "content": "###STOP###", "tool_calls": None}]
    gold = evaluate(data, task, trajectory, "user_stop")
    assert gold["reward"] == 1.0 and gold["db_match"] and all(gold["action_checks"])
    # the replay path (no live environment) agrees with the live one
    assert evaluate(data, task, trajectory, "user_stop", predicted=env) == gold
    nothing = evaluate(data, task, trajectory[:1] + trajectory[-1:], "user_stop")
    assert nothing["reward"] == 0.0 and nothing["db_match"] is False
    # an episode that did not end by a stop signal gets 0, whatever it did
    assert evaluate(data, task, trajectory, "max_steps")["reward"] == 0.0


def test_nl_assertions_are_reported_not_judged(datasets_dir):
    data = load_domain(datasets_dir / "tau2_bench", "retail")
    task = next(t for t in _tasks(datasets_dir, "retail", "tasks.json").values()
                if "NL_ASSERTION" in t["evaluation_criteria"]["reward_basis"])
    info = evaluate(data, task, [{"role": "assistant", "content": GREETING, "tool_calls": None}], "user_stop")
    assert info["nl_assertions"] == "not judged" and "NL_ASSERTION" not in info["breakdown"]


def test_telecom_user_acts_on_the_phone_and_the_carrier_follows(datasets_dir):
    task = next(t for t in _tasks(datasets_dir, "telecom", "tasks.json").values()
                if any(a["name"] == "make_payment" for a in t["evaluation_criteria"]["actions"]))
    env = _env(datasets_dir, "telecom", task)
    outcomes = [env.get_response(a["name"], a["arguments"], a["requestor"])
                for a in task["evaluation_criteria"]["actions"]]
    assert not any(error for _, error in outcomes)
    # the agent's send_payment_request reaches the phone; the user's payment marks the bill paid
    paid = next(text for (text, _), a in zip(outcomes, task["evaluation_criteria"]["actions"])
                if a["name"] == "make_payment")
    assert paid.startswith("Payment of ") and env.user_tools.db.surroundings.payment_request is None
    assert env.get_response("toggle_airplane_mode", {}, "user")[0].startswith("Airplane Mode is now ON.\nStatus Bar: ✈️")
    assert env.get_response("toggle_airplane_mode", {}, "assistant") == ("Error: Tool 'toggle_airplane_mode' not found.", True)


def _eval(api_url, datasets_dir, tmp_path, dataset_args, *extra):
    return run_evalpack("eval", "--model", "mock", "--api-url", api_url, "--datasets", "tau2_bench",
                        "--dataset-dir", str(datasets_dir), "--dataset-args", json.dumps({"tau2_bench": dataset_args}),
                        "--work-dir", str(tmp_path), "--quiet", "--eval-batch-size", "1", *extra, timeout=600)


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples" / "tau2_bench.jsonl").read_text().splitlines()]


@pytest.fixture
def scripted(monkeypatch, datasets_dir, mock_server):
    def start(mode: str):
        monkeypatch.setenv("TAU2_BENCH_DIR", str(datasets_dir / "tau2_bench"))
        monkeypatch.setenv("TAU2_AGENT_MODE", mode)
        return mock_server("--responder", RESPONDER)
    return start


def test_cli_gold_replay_scores_one_with_pass_hat_k(scripted, datasets_dir, tmp_path):
    server = scripted("replay")
    proc = _eval(server.url, datasets_dir, tmp_path, {"repeats": 2}, "--limit", "1")
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert report["num_errors"] == 0 and report["num_scored"] == 6
    assert report["score"] == 1.0 and report["metrics"]["pass^2"] == 1.0
    assert {row["name"]: row["score"] for row in report["subsets"]} == {"airline": 1.0, "retail": 1.0, "telecom": 1.0}
    assert report["nl_assertions_not_judged"] == 0 and report["terminations"] == {"user_stop": 6}
    rows = _rows(run_dir)
    # the transcript is stored: the greeting, the user's tool calls on the phone, their results
    telecom = next(r for r in rows if r["subset"] == "telecom" and r["repeat"] == 0)
    messages = telecom["output"]["messages"]
    assert messages[0] == {"role": "assistant", "content": GREETING, "tool_calls": None}
    user_call = next(m for m in messages if m["role"] == "user" and m["tool_calls"])
    result = messages[messages.index(user_call) + 1]
    assert result["role"] == "tool" and result["requestor"] == "user" and "Status Bar:" in result["content"]
    assert messages[-1]["content"] == "###STOP###"
    # report.html's viewer shows that trajectory as the sample's conversation
    conversation = sample_record(telecom)["conv"]
    assert [m["role"] for m in conversation] == [m["role"] for m in messages]
    assert any("Status Bar:" in str(m.get("content")) for m in conversation if m["role"] == "tool")

    server.stop()  # rescoring needs no server and gives the same numbers
    again = run_evalpack("rescore", str(run_dir), "--quiet")
    assert again.returncode == 0, again.stderr
    rescored = json.loads((run_dir / "report.json").read_text())["datasets"][0]
    assert rescored["score"] == 1.0 and rescored["metrics"]["pass^2"] == 1.0


def test_cli_idle_agent_scores_zero_and_the_user_has_its_own_endpoint(scripted, mock_server, datasets_dir, tmp_path):
    agent = scripted("idle")
    user = mock_server("--responder", RESPONDER, "--api-key", "user-secret-key-456", model="sim-user")
    proc = _eval(agent.url, datasets_dir, tmp_path,
                 {"subset_list": ["telecom"], "extra_params": {
                     "user_model": "sim-user", "api_base": user.url, "api_key": "user-secret-key-456"}},
                 "--limit", "3")
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    rows = _rows(run_dir)
    assert [r["score"] for r in rows] == [0.0, 0.0, 0.0]  # the phone stays broken
    assert all(not all(r["output"]["reward_info"]["env_assertions"]) for r in rows)
    # 3 episodes: the user spoke twice each (opening + stop), the agent once each
    assert user.stats()["chat_requests"] == 6 and agent.stats()["chat_requests"] == 3
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"user-secret-key-456" not in path.read_bytes(), path


def test_bad_arguments_are_usage_errors(datasets_dir, tmp_path):
    for args, words in (({"task_set": "v3"}, "task_set must be one of"),
                        ({"task_split": "nope"}, "has no task_split 'nope'"),
                        ({"extra_params": {"max_steps": 0}}, "max_steps must be a positive integer"),
                        ({"extra_params": {"judge": "x"}}, "extra_params has no key 'judge'")):
        proc = _eval("http://127.0.0.1:9/v1", datasets_dir, tmp_path, args)
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
