"""`evalpack doctor` against the mock, a mock that calls tools, a closed port, a server missing
the model id, and the real llama.cpp server."""

from __future__ import annotations

import json

from conftest import free_port, run_evalpack

TOOL_RESPONDER = '''
def respond(body):
    if body.get("tools"):
        return {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    return "OK"
'''


def doctor(*args: str):
    proc = run_evalpack("doctor", "--json", *args, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, {f["check"]: f for f in json.loads(proc.stdout)}


def test_mock_passes_but_tool_calls_warn(mock_server, datasets_dir, tmp_path):
    mock = mock_server("--answer", "OK")
    code, found = doctor("--api-url", mock.url, "--model", "mock", "--datasets", "mmlu", "gsm8k",
                         "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path))
    assert code == 0
    for check in ("endpoint", "model", "chat", "temperature0", "context", "streaming", "mmlu", "gsm8k", "disk"):
        assert found[check]["status"] == "PASS", found[check]
    assert found["tool_calls"]["status"] == "WARN" and "is_fc_model" in found["tool_calls"]["fix"]
    assert "114 files verified" in found["mmlu"]["detail"]


def test_native_tool_calls_pass(mock_server, tmp_path):
    responder = tmp_path / "tools.py"
    responder.write_text(TOOL_RESPONDER)
    mock = mock_server("--responder", f"{responder}:respond")
    code, found = doctor("--api-url", mock.url, "--model", "mock", "--work-dir", str(tmp_path))
    assert code == 0 and found["tool_calls"]["status"] == "PASS", found["tool_calls"]


def test_missing_model_fails_with_the_served_ids(mock_server, tmp_path):
    mock = mock_server(model="served-model")
    code, found = doctor("--api-url", mock.url, "--model", "wrong", "--work-dir", str(tmp_path))
    assert code == 1
    assert found["model"]["status"] == "FAIL" and found["model"]["fix"] == "pass --model served-model"


def test_closed_port_fails_in_one_line(tmp_path):
    code, found = doctor("--api-url", f"http://127.0.0.1:{free_port()}/v1", "--model", "m",
                         "--work-dir", str(tmp_path))
    assert code == 1 and found["endpoint"]["status"] == "FAIL" and "cannot reach" in found["endpoint"]["detail"]
    assert set(found) == {"endpoint", "disk"}  # nothing else is asked of a server that is not there


def test_missing_dataset_files_fail_with_the_pack_command(tmp_path):
    (tmp_path / "mmlu").mkdir()
    code, found = doctor("--datasets", "mmlu", "--dataset-dir", str(tmp_path), "--work-dir", str(tmp_path))
    assert code == 1 and found["mmlu"]["status"] == "FAIL" and "evalpack pack --datasets mmlu" in found["mmlu"]["fix"]


def test_real_llama_cpp_server(real_model_url, tmp_path):
    code, found = doctor("--api-url", real_model_url, "--model", "smollm2-135m-instruct", "--work-dir", str(tmp_path))
    for check in ("endpoint", "model", "chat", "temperature0", "streaming", "context"):
        assert found[check]["status"] == "PASS", found[check]
    assert found["tool_calls"]["status"] == "WARN"  # SmolLM2 on llama-server answers in text
    assert "usable context:" in found["context"]["detail"]
    assert code == 0
