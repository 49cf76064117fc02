"""Offline datasets: registry vs the real files, pack -> unpack -> verify -> eval, and the
eval-time guarantees (no socket but the API's, nothing written to the dataset dir or $HOME,
a missing dataset stops the run before any request).

The hubs (GitHub, PyPI) cannot exist here: tests/hub_server.py stands in for them on
127.0.0.1 with their URL schemes, serving ../shared/datasets, so the real download code runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from conftest import run_dir_of, run_evalpack
from hub_server import HubServer

from evalpack.benchmarks import registry as bench_registry
from evalpack.datasets.registry import manifests
from evalpack.datasets.verify import needed_files


@pytest.fixture
def hub(datasets_dir):
    server = HubServer(datasets_dir)
    yield server
    server.stop()


def copy_datasets(datasets_dir: Path, dest: Path, *names: str) -> Path:
    for name in names:
        shutil.copytree(datasets_dir / name, dest / name)
    return dest


def test_registry_pins_exactly_the_files_sources_md_records(datasets_dir):
    text = (datasets_dir / "SOURCES.md").read_text(encoding="utf-8").split("## Appendix", 1)[1]
    appendix = {m.group(2): m.group(1) for m in re.finditer(r"^([0-9a-f]{64})  (\S+)$", text, re.M)}
    pinned = {f"{m.name}/{f.path}": f.sha256 for m in manifests().values() for f in m.files}
    # every file of a registry dataset, same hash, nothing extra (dirs without a manifest yet aside)
    assert pinned == {p: h for p, h in appendix.items() if p.split("/", 1)[0] in manifests()}
    for m in manifests().values():
        for f in m.files:
            assert (datasets_dir / m.name / f.path).stat().st_size == f.size
            if f.url:  # pinned upstream: a GitHub raw URL at a commit, or a PyPI wheel + member
                assert re.match(r"https://github\.com/[\w.-]+/[\w.-]+/raw/[0-9a-f]{8,40}/", f.url) or (
                    f.url.startswith("https://files.pythonhosted.org/packages/py3/") and f.member), f.url
            else:
                assert f.derived, f"{m.name}/{f.path} has neither a URL nor a derivation note"
    counts = {name: manifests()[name].records for name in manifests()}
    assert counts["mmlu"] == {"test": 14042, "dev": 285, "val": 1531}  # SOURCES.md's parsed counts
    assert counts["ceval"] == {"val": 1346, "dev": 260, "test": 12342}
    assert counts["gpqa"] == {"test": 198} and counts["humaneval"] == {"test": 164}
    assert counts["gsm8k"] == {"test": 1319} and counts["math500"] == {"test": 500}
    assert counts["minerva_math"] == {"test": 272} and counts["swe_bench_verified_mini"] == {"test": 50}
    assert counts["tau_bench"] == {"test": 165, "dev": 20, "train": 500}
    assert counts["ifeval"] == {"train": 541} and counts["truthfulqa"] == {"validation": 817}
    assert counts["humanevalplus"] == {"test": 164} and counts["mbppplus"] == {"test": 378}
    assert counts["mbpp"] == {"test": 757}  # the test tasks (ids 11-510) of full (500) and sanitized (257)


def test_eval_needs_only_the_selected_subsets_and_read_splits():
    mmlu = bench_registry.get("mmlu")
    assert len(mmlu.data_files()) == 174
    args = mmlu.resolve_args({"subset_list": ["anatomy"]})
    assert sorted(f.path for f in needed_files(mmlu, args)) == [
        "data/dev/anatomy_dev.csv", "data/test/anatomy_test.csv"]
    zero_shot = mmlu.resolve_args({"subset_list": ["anatomy"], "few_shot_num": 0})
    assert [f.path for f in needed_files(mmlu, zero_shot)] == ["data/test/anatomy_test.csv"]
    assert len(needed_files(mmlu, mmlu.resolve_args({}))) == 114  # 57 test + 57 dev; no val, no docs


def test_pack_unpack_verify_then_eval_offline(hub, datasets_dir, mock_server, tmp_path):
    gsm8k = "/raw.githubusercontent.com/openai/grade-school-math/3101c7d5072418e28b9008a6636bde82a006892c/" \
            "grade_school_math/data/test.jsonl"
    wheel = "/packages/py3/b/bfcl-eval/bfcl_eval-2026.3.23-py3-none-any.whl"
    hub.cut_once |= {gsm8k, wheel}  # each first response breaks off halfway
    kit = tmp_path / "kit.tar"
    proc = run_evalpack("pack", "--datasets", "all", "--out", str(kit), "--hub-base", hub.url,
                        "--mirror", f"{hub.url}/mirror")
    assert proc.returncode == 0, proc.stderr
    for path in (gsm8k, wheel):  # resumed where it broke off, not restarted
        ranges = [(r, s) for p, r, s in hub.log if p == path]
        assert ranges[0] == (None, 200) and ranges[1][1] == 206 and ranges[1][0].startswith("bytes="), ranges
    assert any(p.startswith("/hiyouga/LLaMA-Factory/raw/") for p, _, s in hub.log if s == 302)
    assert not (tmp_path / "kit.tar.staging").exists()

    with tarfile.open(kit) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert names[0] == "manifest.json"
    assert {m["name"] for m in manifest["datasets"]} == set(manifests())
    n_files = sum(len(m.files) for m in manifests().values())  # every file of every registry dataset
    assert len([n for n in names if n.startswith("datasets/")]) == n_files
    mmlu_entry = next(m for m in manifest["datasets"] if m["name"] == "mmlu")
    assert mmlu_entry["source"]["revision"] == "65ea7a0d7c37e82f0b46f3808ec336604f18a5e9"
    assert manifest["evalpack_version"] and all("sha256" in f and "size" in f for f in mmlu_entry["files"])

    data = tmp_path / "data"
    proc = run_evalpack("unpack", str(kit), "--to", str(data))
    assert proc.returncode == 0, proc.stderr
    assert f"{n_files} files written" in proc.stdout
    for f in ("mmlu/data/test/anatomy_test.csv", "bfcl_v4/BFCL_v4_simple_python.json", "gpqa/gpqa_diamond.zip"):
        assert (data / f).read_bytes() == (datasets_dir / f).read_bytes()
    proc = run_evalpack("verify", "--dataset-dir", str(data))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mmlu: 174 files checked, ok" in proc.stdout
    proc = run_evalpack("unpack", str(kit), "--to", str(data))  # again: nothing rewritten
    assert proc.returncode == 0 and f"0 files written, {n_files} already there" in proc.stdout

    server = mock_server("--answer", "ANSWER: B")
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(data), "--work-dir", str(tmp_path / "out"), "--limit", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir_of(proc) / "report.json").read_text())
    assert report["datasets"][0]["num_samples"] == 114 and server.stats()["chat_requests"] == 114


def test_pack_names_what_it_cannot_get(hub, tmp_path):
    proc = run_evalpack("pack", "--datasets", "gsm8k", "gpqa_diamond", "--out", str(tmp_path / "k.tar"),
                        "--hub-base", hub.url)
    assert proc.returncode == 2 and "gpqa/gpqa_diamond.zip" in proc.stderr and "--mirror" in proc.stderr
    math500 = "/raw.githubusercontent.com/akatigre/reason-icl/1b1e2cce7bc69e36925b3a9344feb66b443c1041/" \
              "data/MATH500/test.jsonl"
    hub.missing.add(math500)
    pack = ("pack", "--datasets", "gsm8k", "math_500", "--out", str(tmp_path / "k.tar"), "--hub-base", hub.url)
    proc = run_evalpack(*pack)
    assert proc.returncode == 1 and "HTTP 404" in proc.stderr and "MATH500/test.jsonl" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "k.tar").exists()
    assert [s for p, _, s in hub.log if p == math500] == [404]  # a 404 is final: not retried

    hub.missing.clear()  # the hub is back: the same command finishes the job, fetching only what it lacked
    fetched = len(hub.log)
    proc = run_evalpack(*pack)
    assert proc.returncode == 0, proc.stderr
    assert [p for p, _, s in hub.log[fetched:] if s == 200] == [math500]
    with tarfile.open(tmp_path / "k.tar") as tar:
        assert sorted(n for n in tar.getnames() if n.startswith("datasets/")) == [
            "datasets/gsm8k/test.jsonl", "datasets/math500/test.jsonl"]


def test_corrupt_byte_and_missing_file_are_named(datasets_dir, mock_server, tmp_path):
    data = copy_datasets(datasets_dir, tmp_path / "data", "mmlu", "gsm8k")
    corrupt = data / "mmlu/data/test/anatomy_test.csv"
    blob = bytearray(corrupt.read_bytes())
    blob[1000] ^= 0x01  # one bit, same size: only the hash can tell
    corrupt.write_bytes(bytes(blob))
    (data / "mmlu/data/dev/virology_dev.csv").unlink()
    (data / "gsm8k/test.jsonl").write_bytes(b"")

    proc = run_evalpack("verify", "--dataset-dir", str(data))
    assert proc.returncode == 1
    assert "CORRUPT mmlu/data/test/anatomy_test.csv: sha256" in proc.stdout
    assert "MISSING mmlu/data/dev/virology_dev.csv" in proc.stdout
    assert "CORRUPT gsm8k/test.jsonl: 0 bytes, expected 749738" in proc.stdout

    server = mock_server()
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(data), "--work-dir", str(tmp_path / "out"),
                        "--dataset-args", '{"mmlu": {"subset_list": ["anatomy", "virology"]}}')
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "data/dev/virology_dev.csv" in proc.stderr and "data/test/anatomy_test.csv: sha256" in proc.stderr
    assert server.stats()["requests"] == 0


def test_unpack_refuses_a_tampered_kit(datasets_dir, tmp_path):
    kit = tmp_path / "kit.tar"
    proc = run_evalpack("pack", "--datasets", "gpqa_diamond", "--out", str(kit), "--mirror", str(datasets_dir))
    assert proc.returncode == 0, proc.stderr  # derived files only: all from the mirror dir, no network
    proc = run_evalpack("pack", "--datasets", "gpqa_diamond", "--out", str(tmp_path / "kit.tar.gz"),
                        "--mirror", str(datasets_dir))
    assert proc.returncode == 0 and (tmp_path / "kit.tar.gz").read_bytes()[:2] == b"\x1f\x8b"
    proc = run_evalpack("unpack", str(tmp_path / "kit.tar.gz"), "--to", str(tmp_path / "gz"))
    assert proc.returncode == 0 and (tmp_path / "gz/gpqa/gpqa_diamond.zip").read_bytes() == \
        (datasets_dir / "gpqa/gpqa_diamond.zip").read_bytes()
    raw = bytearray(kit.read_bytes())
    with tarfile.open(kit) as tar:
        info = tar.getmember("datasets/gpqa/gpqa_diamond.zip")
    raw[info.offset_data + 5000] ^= 0xFF
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(raw))
    proc = run_evalpack("unpack", str(bad), "--to", str(tmp_path / "data"))
    assert proc.returncode == 1 and "CORRUPT gpqa/gpqa_diamond.zip: sha256" in proc.stdout
    assert not (tmp_path / "data/gpqa/gpqa_diamond.zip").exists()
    assert not list((tmp_path / "data").rglob("*.evalpack-part"))


def test_missing_dataset_stops_before_any_request(mock_server, tmp_path):
    server = mock_server()
    (tmp_path / "empty").mkdir()
    started = time.perf_counter()
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(tmp_path / "empty"), "--work-dir", str(tmp_path / "out"))
    elapsed = time.perf_counter() - started
    print(f"missing-dataset exit took {elapsed:.2f} s (process start included)")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    err = proc.stderr
    assert f"{tmp_path / 'empty' / 'mmlu'} does not exist" in err  # where it looked
    assert "data/dev/abstract_algebra_dev.csv" in err and "114 files expected" in err  # what is missing
    assert "evalpack pack --datasets mmlu --out evalpack-data.tar" in err  # what to run elsewhere
    assert f"evalpack unpack evalpack-data.tar --to {tmp_path / 'empty'}" in err
    assert server.stats()["requests"] == 0 and not (tmp_path / "out").exists()


AUDIT = r'''
import json, os, sys
LOG, DATA, HOME = os.environ["AUDIT_LOG"], os.path.realpath(os.environ["AUDIT_DATA"]), os.environ["HOME"]
events = []
WRITES = {"os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.chmod", "os.chown", "os.utime", "os.link",
          "os.symlink", "os.truncate", "shutil.rmtree", "shutil.copyfile", "shutil.move"}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def under(path, root):
    try:
        p = os.path.realpath(os.fsdecode(path))
    except TypeError:
        return False
    return p == root or p.startswith(root + os.sep)

def hook(event, args):
    if event == "socket.connect":
        events.append(["connect", repr(args[1])])
    elif event == "socket.getaddrinfo":
        events.append(["getaddrinfo", repr(args[0])])
    elif event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1] or "", args[2] or 0
        if any(c in mode for c in "wax+") or flags & WRITE_FLAGS:
            if under(args[0], DATA) or under(args[0], HOME):
                events.append(["write", os.fsdecode(args[0])])
    elif event in WRITES and args and isinstance(args[0], (str, bytes, os.PathLike)):
        if under(args[0], DATA) or under(args[0], HOME):
            events.append([event, os.fsdecode(args[0])])

def dump():
    banned = ("datasets", "huggingface_hub", "modelscope", "fsspec", "requests", "evalpack.datasets.download")
    events.extend(["module", m] for m in sorted(sys.modules) if m.split(".")[0] in banned[:-1] or m == banned[-1])
    with open(LOG, "w") as f:
        json.dump(events, f)

import atexit
atexit.register(dump)
sys.addaudithook(hook)
from evalpack.cli import main
sys.exit(main(sys.argv[1:]))
'''


def test_eval_on_a_read_only_dir_opens_no_other_socket_and_writes_nothing(datasets_dir, mock_server, tmp_path):
    """As root, chmod alone proves little (root ignores it), so the audit hook also records
    every write attempt under the dataset dir and $HOME, and every socket.connect."""
    data = copy_datasets(datasets_dir, tmp_path / "ro", "mmlu")
    home = tmp_path / "home"
    home.mkdir()
    before = sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in data.rglob("*"))
    subprocess.run(["chmod", "-R", "a-w", str(data)], check=True)
    assert not stat.S_IMODE((data / "mmlu/data/test/anatomy_test.csv").stat().st_mode) & 0o222
    try:
        server = mock_server("--answer", "ANSWER: A")
        audit_log = tmp_path / "audit.json"
        wrapper = tmp_path / "audited.py"
        wrapper.write_text(AUDIT)
        env = {**os.environ, "AUDIT_LOG": str(audit_log), "AUDIT_DATA": str(data), "HOME": str(home)}
        env.pop("EVALPACK_DATA", None)
        env.pop("XDG_CACHE_HOME", None)
        proc = subprocess.run(
            [sys.executable, str(wrapper), "eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
             "--dataset-dir", str(data), "--work-dir", str(tmp_path / "out"), "--limit", "1", "--quiet"],
            capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        events = json.loads(audit_log.read_text())
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(data)], check=True)
    connects = [e[1] for e in events if e[0] == "connect"]
    assert connects and set(connects) == {repr(("127.0.0.1", server.port))}, connects
    assert {e[1] for e in events if e[0] == "getaddrinfo"} <= {"'127.0.0.1'"}, events
    assert [e for e in events if e[0] not in ("connect", "getaddrinfo")] == []  # no writes, no hub libraries
    assert server.stats()["chat_requests"] == 57
    assert list(home.iterdir()) == []
    assert sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in data.rglob("*")) == before


def test_a_module_with_other_split_or_subset_names_still_gets_every_file_checked():
    from evalpack.benchmarks.base import Benchmark

    class GPQALike(Benchmark):  # EvalScope reads GPQA's only split as "train"; the manifest says "test"
        name, data_dirname, split, subsets = "gpqa_diamond", "gpqa", "train", ("diamond",)

    bench = GPQALike()
    assert [f.path for f in needed_files(bench, bench.resolve_args({}))] == ["gpqa_diamond.zip"]

    class BFCLLike(Benchmark):  # subset names unlike the manifest's tags: all files stay required
        name, data_dirname, subsets = "bfcl_v4", "bfcl_v4", ("simple", "multiple")

    bench = BFCLLike()
    needed = {f.path for f in needed_files(bench, bench.resolve_args({"subset_list": ["simple"]}))}
    assert "BFCL_v4_simple_python.json" in needed and "possible_answer/BFCL_v4_live_multiple.json" in needed
    assert not any(p.startswith("unused_datasets/") for p in needed)


def test_unpack_refuses_paths_that_leave_the_dataset_dir(tmp_path):
    import io

    manifest = {"format": "evalpack-kit/1", "evalpack_version": "0", "datasets": [
        {"name": "extra", "files": [{"path": "../../escaped.txt", "sha256": "0" * 64, "size": 2}]}]}
    kit = tmp_path / "evil.tar"
    with tarfile.open(kit, "w") as tar:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), ("datasets/extra/../../escaped.txt", b"hi")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    proc = run_evalpack("unpack", str(kit), "--to", str(tmp_path / "data" / "inner"))
    assert proc.returncode == 2 and "leaves the dataset dir" in proc.stderr
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "data").exists()


def test_list_shows_sizes_records_and_the_state_of_each_dataset(datasets_dir, tmp_path):
    data = copy_datasets(datasets_dir, tmp_path / "data", "mmlu", "gsm8k", "humaneval")
    (data / "gsm8k/test.jsonl").write_bytes(b"{}\n")
    (data / "humaneval/HumanEval.jsonl.gz").unlink()
    (data / "humaneval/other-layout.parquet").write_bytes(b"PAR1")
    proc = run_evalpack("list", "--dataset-dir", str(data))
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert re.search(r"mmlu\s+accuracy\s+57\s+14042\s+7\.2 MB\s+verified$", rows["mmlu"])
    one = run_evalpack("list", "--dataset-dir", str(data), "mmlu").stdout
    assert re.search(r"^    anatomy\s+135$", one, re.M)  # per-subset records of the scored split
    assert rows["gsm8k"].endswith("CORRUPT (1 files)")
    assert rows["humaneval"].endswith("other layout (unverified)")
    assert rows["tau_bench"].endswith("missing")
