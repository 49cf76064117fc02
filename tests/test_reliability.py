"""Nothing lost, nothing leaked, every bad input one sentence (issue 13).

Each test runs the real CLI against a real server on 127.0.0.1: `evalpack mock`, or
tests/bad_server.py for servers that misbehave on purpose. The runs are tiny (two MMLU
questions), so the whole file takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bad_server import BadServer
from conftest import gate_responder, run_dir_of, run_evalpack, wait_until

KEY = "sk-evalpack-TOPSECRET-4f2a9c"
ANATOMY = '{"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}'


@pytest.fixture(scope="module")
def bad():
    server = BadServer().start()
    yield server
    server.stop()


def eval_cmd(url: str, datasets_dir: Path, work: Path, *extra: str) -> list[str]:
    return ["eval", "--model", "mock", "--api-url", url, "--datasets", "mmlu", "--dataset-dir", str(datasets_dir),
            "--work-dir", str(work), "--quiet", "--limit", "2", "--dataset-args", ANATOMY,
            "--generation-config", '{"retries": 1, "retry_interval": 0}', *extra]


def everything_written(work: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(work.rglob("*")) if p.is_file())


def one_sentence(err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("evalpack: ") and "Traceback" not in err


# --- secrets ------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["echo_auth_401", "echo_auth_403", "echo_auth_400", "echo_auth_500",
                                  "echo_auth_200", "echo_auth_content"])
def test_a_key_echoed_by_the_server_reaches_no_output_and_no_file(bad, datasets_dir, tmp_path, mode):
    proc = run_evalpack(*eval_cmd(bad.base(mode), datasets_dir, tmp_path, "--api-key", KEY))
    assert proc.returncode != 0 or mode == "echo_auth_content"
    assert bad.stats[f"{mode} POST chat/completions"] >= 1  # the server did see (and echo) the key
    assert KEY not in proc.stdout + proc.stderr
    written = everything_written(tmp_path)
    assert written and KEY.encode() not in written  # run.db, samples/*.jsonl, report.*, the log
    assert b"***" in written or mode in ("echo_auth_401", "echo_auth_403")  # the echo was kept, masked


def test_url_credentials_and_secret_looking_extra_body_keys_are_not_written(bad, datasets_dir, tmp_path):
    url = bad.base("ok").replace("http://", "http://alice:pw-Hunter2-xyz@")
    proc = run_evalpack(*eval_cmd(url, datasets_dir, tmp_path)[:-2], "--generation-config",
                        json.dumps({"extra_body": {"api_key": "judge-KEY-998877", "top_k": 5}}))
    assert proc.returncode == 0, proc.stderr
    config = (run_dir_of(proc) / "config.yaml").read_text()
    assert "top_k: 5" in config and "***@127.0.0.1" in config
    written = everything_written(tmp_path)
    assert b"pw-Hunter2-xyz" not in written and b"judge-KEY-998877" not in written


# --- streams and odd shapes -----------------------------------------------------------------

def test_a_stream_closed_before_its_end_is_an_error_retried_and_never_cached(bad, datasets_dir, tmp_path):
    args = eval_cmd(bad.base("truncated_stream"), datasets_dir, tmp_path, "--stream")
    first = run_evalpack(*args)
    assert first.returncode == 1 and "--ignore-errors" in first.stderr
    assert bad.stats["truncated_stream POST chat/completions"] == 4  # 2 samples x (1 + 1 retry)
    rows = [json.loads(line) for line in (run_dir_of(first) / "samples" / "mmlu.jsonl").read_text().splitlines()]
    assert all("stream ended before" in r["error"] and r["score"] is None for r in rows)
    again = run_evalpack(*args)  # nothing was cached: the same samples are asked again
    assert again.returncode == 1 and bad.stats["truncated_stream POST chat/completions"] == 8


@pytest.mark.parametrize("mode", ["json_to_stream", "sse_as_json"])
def test_a_stream_request_answered_in_the_other_format_is_still_read(bad, datasets_dir, tmp_path, mode):
    proc = run_evalpack(*eval_cmd(bad.base(mode), datasets_dir, tmp_path, "--stream"))
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (run_dir_of(proc) / "samples" / "mmlu.jsonl").read_text().splitlines()]
    assert [r["extracted"] for r in rows] == ["A", "A"] and all(r["error"] is None for r in rows)


@pytest.mark.parametrize("mode,stream", [("choices_string", False), ("message_string", False),
                                         ("function_null", False), ("content_number", False),
                                         ("not_json", False), ("error_200", False), ("chunk_list", True)])
def test_a_malformed_reply_is_a_retried_error_of_its_sample_and_report_and_rescore_survive(
        bad, datasets_dir, tmp_path, mode, stream):
    proc = run_evalpack(*eval_cmd(bad.base(mode), datasets_dir, tmp_path, *(["--stream"] if stream else [])))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert bad.stats[f"{mode} POST chat/completions"] == 4  # retried like any other failure
    run_dir = run_dir_of(proc)
    rows = [json.loads(line) for line in (run_dir / "samples" / "mmlu.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["error"] and r["score"] is None for r in rows)
    for command in (["report", str(run_dir)], ["rescore", str(run_dir), "--quiet"]):
        later = run_evalpack(*command)
        assert later.returncode == 0 and "Traceback" not in later.stderr, later.stderr


@pytest.mark.parametrize("mode,stream", [("endless_body", False), ("endless_stream", True), ("endless_error", False)])
def test_an_endless_reply_is_cut_off_and_an_error_of_its_sample(bad, datasets_dir, tmp_path, mode, stream):
    """A reply (or error page) that never ends is read up to a cap, never into memory whole."""
    proc = run_evalpack(*eval_cmd(bad.base(mode), datasets_dir, tmp_path, *(["--stream"] if stream else [])))
    assert proc.returncode == 1 and one_sentence(proc.stderr), proc.stderr
    rows = [json.loads(line) for line in (run_dir_of(proc) / "samples" / "mmlu.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["score"] is None for r in rows)
    why = "HTTP 500" if mode == "endless_error" else "over the 64 MiB a reply may be"
    assert all(why in r["error"] for r in rows), rows[0]["error"]
    assert bad.stats[f"{mode} POST chat/completions"] == 4  # retried like any other failure


# --- the server's answers that stop a run ----------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_stops_the_run_with_a_sentence_instead_of_a_bodiless_get(bad, datasets_dir, tmp_path, status):
    proc = run_evalpack(*eval_cmd(bad.base(f"redirect_{status}"), datasets_dir, tmp_path))
    assert proc.returncode == 3 and one_sentence(proc.stderr), proc.stderr
    assert "redirect" in proc.stderr and "--api-url" in proc.stderr
    assert bad.stats["ok GET chat/completions"] == 0  # the redirect was not followed


def test_a_server_without_a_model_list_is_refused_unless_the_preflight_is_skipped(bad, datasets_dir, tmp_path):
    refused = run_evalpack(*eval_cmd(bad.base("models_404"), datasets_dir, tmp_path))
    assert refused.returncode == 3 and one_sentence(refused.stderr) and "--skip-preflight" in refused.stderr
    skipped = run_evalpack(*eval_cmd(bad.base("models_404"), datasets_dir, tmp_path, "--skip-preflight"))
    assert skipped.returncode == 0, skipped.stderr
    assert bad.stats["models_404 POST chat/completions"] == 2


def test_every_sample_failing_exits_non_zero_unless_errors_are_ignored(bad, datasets_dir, tmp_path):
    failed = run_evalpack(*eval_cmd(bad.base("not_json"), datasets_dir, tmp_path))
    assert failed.returncode == 1 and one_sentence(failed.stderr) and "2 samples ended in an error" in failed.stderr
    accepted = run_evalpack(*eval_cmd(bad.base("not_json"), datasets_dir, tmp_path, "--ignore-errors"))
    assert accepted.returncode == 0, accepted.stderr


# --- the store ---------------------------------------------------------------------------------

def test_a_run_db_locked_by_another_process_loses_nothing(mock_server, datasets_dir, tmp_path):
    """The lock is held until the run has answered (and so tried to store) every reply."""
    server = mock_server("--answer", "ANSWER: A")
    assert run_evalpack(*eval_cmd(server.url, datasets_dir, tmp_path)).returncode == 0  # creates run.db
    args = eval_cmd(server.url, datasets_dir, tmp_path, "--limit", "20", "--eval-batch-size", "4")
    run_db = next(tmp_path.glob("*/run.db"))
    holder = sqlite3.connect(run_db, isolation_level=None, timeout=60)
    holder.execute("BEGIN EXCLUSIVE")
    server.reset()
    proc = subprocess.Popen([sys.executable, "-m", "evalpack", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # 4 workers, and none sends again before its reply is committed: the commit waits on the lock
        wait_until(lambda: server.stats()["chat_requests"] >= 4, "the first requests")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert server.stats()["chat_requests"] == 18  # the 2 of the first run were cached
    stored = sqlite3.connect(run_db).execute("SELECT COUNT(*) FROM results WHERE error IS NULL").fetchone()[0]
    assert stored == 20


def test_a_second_eval_on_the_same_run_dir_is_refused_naming_the_first(mock_server, datasets_dir, tmp_path):
    server = mock_server("--responder", gate_responder(tmp_path, 0))
    args = eval_cmd(server.url, datasets_dir, tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "evalpack", *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: server.stats()["chat_requests"] >= 1, "the first run to be asking")
        second = run_evalpack(*args)
        assert second.returncode == 4 and one_sentence(second.stderr), second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert server.stats()["chat_requests"] <= 2  # the second run sent nothing
        rescore = run_evalpack("rescore", str(next(tmp_path.glob("mock-*"))))
        assert rescore.returncode == 4 and f"pid {first.pid}" in rescore.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 130


# --- SIGTERM with SIGINT ignored (`cmd &`) for the servers ------------------------------------

@pytest.mark.parametrize("command", [["mock"], ["adapter", "--backend", "http://127.0.0.1:9/generate", "--model", "m"]])
def test_servers_stop_on_sigterm_even_with_sigint_ignored(command):
    from conftest import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "evalpack", *command, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        wait_until(lambda: proc.stdout.readline().startswith("evalpack "), "the server to listen", 60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode in (0, 130, -signal.SIGTERM) and "Traceback" not in err, err


# --- bad local input ---------------------------------------------------------------------------

def test_mock_bad_input_is_one_sentence(tmp_path):
    from conftest import free_port

    broken = tmp_path / "broken.py"
    broken.write_text("def respond(body:\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {match: '([', reply: x}\n")
    for args in (["--responder", f"{broken}:respond"], ["--rules", str(rules)]):
        proc = run_evalpack("mock", "--port", str(free_port()), *args, timeout=60)
        assert proc.returncode == 2 and one_sentence(proc.stderr), proc.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = run_evalpack("mock", "--port", str(taken.getsockname()[1]), timeout=60)
    assert proc.returncode == 2 and one_sentence(proc.stderr) and "--port" in proc.stderr, proc.stderr


def test_report_compare_and_rescore_on_damaged_files_are_one_sentence(mock_server, datasets_dir, tmp_path):
    server = mock_server()
    proc = run_evalpack(*eval_cmd(server.url, datasets_dir, tmp_path / "w"))
    assert proc.returncode == 0, proc.stderr
    good = run_dir_of(proc)
    for name, damage in (("report.json", b"{not json"), ("report.json", b'{"datasets": [{"x": 1}]}'),
                         ("plans.json", b"[1, 2"), ("run.db", os.urandom(4096)), ("config.yaml", b"\xff\xfe: [")):
        run_dir = tmp_path / f"copy-{name}-{len(damage)}"
        subprocess.run(["cp", "-r", str(good), str(run_dir)], check=True)
        (run_dir / name).write_bytes(damage)
        for command in (["report", str(run_dir)], ["compare", str(run_dir), str(good), "--out", str(tmp_path / "compare.html")],
                        ["rescore", str(run_dir), "--quiet"]):
            out = run_evalpack(*command)
            assert out.returncode in (0, 2, 4) and "Traceback" not in out.stderr, (name, command, out.stderr)
            if out.returncode:
                assert one_sentence(out.stderr), out.stderr


def test_list_of_an_unknown_benchmark_exits_2():
    proc = run_evalpack("list", "nosuchbench")
    assert proc.returncode == 2 and one_sentence(proc.stderr) and "nosuchbench" in proc.stderr


def test_a_work_dir_that_is_a_file_is_one_sentence(mock_server, datasets_dir, tmp_path):
    server = mock_server()
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    proc = run_evalpack(*eval_cmd(server.url, datasets_dir, not_a_dir))
    assert proc.returncode == 2 and one_sentence(proc.stderr) and "--work-dir" in proc.stderr, proc.stderr
    assert server.stats()["chat_requests"] == 0


# --- SWE-bench never builds or pulls at eval time ----------------------------------------------

def test_swe_bench_missing_images_stop_the_run_before_any_request(mock_server, tmp_path):
    from evalpack import docker_engine

    ok, why = docker_engine.available()
    if not ok:
        pytest.skip(why)
    fixture = Path(__file__).parent / "fixtures" / "swe_synthetic"
    sys.path.insert(0, str(fixture))
    from make_repo import make_repo

    repo = tmp_path / "tinycalc"
    make_repo(repo)
    # instances renamed for this run: their image tags cannot exist in the engine (other tests build
    # the fixture's images, for both architectures, and the engine keeps them between runs)
    data = tmp_path / "swe"
    shutil.copytree(fixture, data, ignore=shutil.ignore_patterns("repo", "__pycache__"))
    suffix = uuid.uuid4().hex[:8]
    rows = [json.loads(line) for line in (fixture / "test.jsonl").read_text().splitlines() if line.strip()]
    (data / "test.jsonl").write_text("".join(
        json.dumps({**r, "instance_id": f"{r['instance_id']}-{suffix}"}) + "\n" for r in rows))
    server = mock_server()
    args = {"swe_bench_verified_mini": {"local_path": str(data), "extra_params": {
        "repos": {"evalpack/tinycalc": str(repo)}}}}
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "swe_bench_verified_mini",
                        "--dataset-args", json.dumps(args), "--dataset-dir", str(tmp_path), "--work-dir",
                        str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 2 and one_sentence(proc.stderr), proc.stderr
    assert "evalpack pack --datasets swe_bench_verified_mini --with-images" in proc.stderr
    assert server.stats()["requests"] == 0  # not even the preflight


# --- kits ------------------------------------------------------------------------------------------

def _sample_kit(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """A kit whose manifest calls its mmlu data "sample": the hashes are the kit's own."""
    from evalpack.datasets.pack import kit_manifest, sample_manifest, write_archive
    from evalpack.datasets.registry import find_manifest

    staging = tmp_path / "staging"
    root = staging / "datasets" / "mmlu"
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    manifest = kit_manifest([sample_manifest(find_manifest("mmlu"), root)], None, None, {"mmlu": {"sample": True}})
    write_archive(tmp_path / "kit.tar", staging, manifest)
    return tmp_path / "kit.tar"


def test_a_sample_kit_never_replaces_verified_files(datasets_dir, tmp_path):
    real = "data/test/anatomy_test.csv"
    data = tmp_path / "data" / "mmlu"
    (data / real).parent.mkdir(parents=True)
    (data / real).write_bytes((datasets_dir / "mmlu" / real).read_bytes())  # verified against the registry
    kit = _sample_kit(tmp_path, {real: b'"poisoned question",a,b,c,d,A\n', "evalpack-sample.json": b'{"sample": true}'})
    proc = run_evalpack("unpack", str(kit), "--to", str(tmp_path / "data"))
    assert proc.returncode == 2 and "never replaces verified data" in proc.stderr and "Traceback" not in proc.stderr
    assert (data / real).read_bytes() == (datasets_dir / "mmlu" / real).read_bytes()
    assert not (data / "evalpack-sample.json").exists()  # verification was not switched off either


def test_eval_checks_an_unpacked_sample_kit_against_its_hashes(mock_server, tmp_path):
    rows = b"".join(b'"Question %d?",w,x,y,z,A\n' % i for i in range(3))
    kit = _sample_kit(tmp_path, {"data/test/anatomy_test.csv": rows, "data/dev/anatomy_dev.csv": rows,
                                 "evalpack-sample.json": b'{"sample": true}'})
    assert run_evalpack("unpack", str(kit), "--to", str(tmp_path / "data")).returncode == 0
    server = mock_server()
    args = ["eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu", "--dataset-dir",
            str(tmp_path / "data"), "--work-dir", str(tmp_path / "out"), "--quiet", "--dataset-args", ANATOMY]
    assert run_evalpack(*args).returncode == 0
    (tmp_path / "data" / "mmlu" / "data" / "test" / "anatomy_test.csv").write_bytes(rows.replace(b"A\n", b"B\n"))
    proc = run_evalpack(*args, "--fresh")
    assert proc.returncode == 2 and "corrupt" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert server.stats()["chat_requests"] == 3


@pytest.mark.parametrize("damage", ["truncated", "bad_manifest", "manifest_shape"])
def test_unpack_of_a_damaged_kit_is_one_sentence(datasets_dir, tmp_path, damage):
    import io
    import tarfile

    kit = _sample_kit(tmp_path, {"data/test/anatomy_test.csv": b"q,a,b,c,d,A\n" * 4000,
                                 "evalpack-sample.json": b"{}"})
    if damage == "truncated":
        kit.write_bytes(kit.read_bytes()[:30000])
    else:
        body = b"{not json" if damage == "bad_manifest" else b'{"format": "evalpack-kit/1", "datasets": [{"x": 1}]}'
        with tarfile.open(kit, "w") as tar:
            info = tarfile.TarInfo("manifest.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    proc = run_evalpack("unpack", str(kit), "--to", str(tmp_path / "data"))
    assert proc.returncode == 2 and one_sentence(proc.stderr), proc.stderr
