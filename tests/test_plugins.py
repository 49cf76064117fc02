"""Plugin benchmarks (entry-point group `evalpack.benchmarks`), installed for real: a fresh venv
sees this Python's packages, pip installs the example plugin (tests/fixtures/plugin_toy_arith)
into it, offline, and that venv's `python -m evalpack` lists, runs, packs and verifies it. A
second venv holds a plugin that gets everything wrong: warnings, and nothing else stops."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import MockProcess, run_dir_of

FIXTURES = Path(__file__).parent / "fixtures"
RESPONDER = Path(__file__).parent / "responders" / "arith.py"
PACKAGE = "evalpack-toy-arith 0.1.0"
BROKEN = "evalpack-broken-plugin 0.0.1"


def make_venv(root: Path, *fixtures: str) -> Path:
    """A venv that sees this interpreter's packages, with the fixture packages pip-installed;
    returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(root)],
                   check=True, capture_output=True)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    if sys.prefix != sys.base_prefix:  # we run in a venv (CI): --system-site-packages means the base's, not ours
        Path(purelib, "_evalpack_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    for name in fixtures:
        src = root.parent / f"src-{root.name}-{name}"  # a copy: a build never writes into the checkout
        shutil.copytree(FIXTURES / name, src)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                               "--no-index", str(src)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return python


def evalpack(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "evalpack", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, "EVALPACK_DATA": "/nonexistent-evalpack-data"})


def rows() -> list[dict]:
    path = FIXTURES / "plugin_toy_arith" / "evalpack_toy_arith" / "data" / "toy_arith" / "test.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def expected(max_operand: int) -> tuple[int, int]:
    """(right, asked) by the responder's rule, counted from the data file, not by the plugin."""
    asked = [r for r in rows() if max(r["a"], r["b"]) <= max_operand]
    return sum(r["op"] == "add" or r["answer"] <= 100 for r in asked), len(asked)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    return make_venv(tmp_path_factory.mktemp("plugin") / "venv", "plugin_toy_arith")


@pytest.fixture(scope="module")
def server():
    mock = MockProcess("--responder", f"{RESPONDER}:respond")
    yield mock
    mock.stop()


def test_list_shows_the_plugin_with_its_package(venv):
    proc = evalpack(venv, "list")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("toy_arith "))
    assert f"plugin from {PACKAGE}" in line and "in its package, verified" in line
    assert line.split()[1:4] == ["accuracy", "2", "12"]  # metric, subsets, records (from its manifest)
    mmlu = next(x for x in proc.stdout.splitlines() if x.startswith("mmlu "))
    assert "plugin" not in mmlu
    # the generated README table and docs page document evalpack's own benchmarks only
    for flag in ("--markdown", "--docs"):
        generated = evalpack(venv, "list", flag)
        assert generated.returncode == 0 and "`mmlu`" in generated.stdout and "toy_arith" not in generated.stdout
    detail = evalpack(venv, "list", "toy_arith")
    assert detail.returncode == 0 and {"add", "mul"} <= {x.split()[0] for x in detail.stdout.splitlines() if x.startswith("    ")}


def test_eval_runs_the_plugin_with_the_exact_score(venv, server, tmp_path):
    for args, max_operand in (({}, 1000), ({"max_operand": 5000}, 5000)):
        proc = evalpack(venv, "eval", "--model", "mock", "--api-url", server.url, "--datasets", "toy_arith",
                        "--dataset-args", json.dumps({"toy_arith": args}), "--work-dir", str(tmp_path / str(max_operand)),
                        "--quiet")
        assert proc.returncode == 0, proc.stderr
        report = json.loads((run_dir_of(proc) / "report.json").read_text())["datasets"][0]
        right, asked = expected(max_operand)
        assert (report["num_samples"], report["score"]) == (asked, pytest.approx(right / asked))
        assert 0 < right < asked  # the decoys in <think> and reasoning_content were not graded


def test_the_python_api_and_rescore_run_the_plugin_too(venv, server, tmp_path):
    code = ("import json, sys, evalpack\n"
            "r = evalpack.evaluate(model='mock', api_url=sys.argv[1], datasets=['toy_arith'], work_dir=sys.argv[2],\n"
            "                      dataset_args={'toy_arith': {'subset_list': ['mul'], 'max_operand': 5000}})\n"
            "print(json.dumps([r['toy_arith'].score, len(list(r.samples('toy_arith'))), str(r.run_dir)]))")
    proc = subprocess.run([str(venv), "-c", code, server.url, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    score, n, run_dir = json.loads(proc.stdout.splitlines()[-1])
    mul = [r for r in rows() if r["op"] == "mul"]
    assert (n, score) == (len(mul), pytest.approx(sum(r["answer"] <= 100 for r in mul) / len(mul)))
    again = evalpack(venv, "rescore", run_dir)  # no server: the stored replies, the plugin's score()
    assert again.returncode == 0, again.stderr
    assert json.loads((Path(run_dir) / "report.json").read_text())["datasets"][0]["score"] == pytest.approx(score)


def test_plugin_args_are_validated_like_built_in_ones(venv, tmp_path):
    dead = "http://127.0.0.1:9/v1"  # never reached: the args are refused before any request
    for args, says in (({"max_operand": 0}, "max_operand must be a positive integer, got 0"),
                       ({"max_operand": "ten"}, "max_operand must be a positive integer, got 'ten'"),
                       ({"max_oprand": 5}, "unknown key 'max_oprand' for toy_arith"),
                       ({"subset_list": ["div"]}, "has no subset 'div'"),
                       ({"prompt_template": "{nope}"}, "unknown placeholder {nope}")):
        proc = evalpack(venv, "eval", "--model", "m", "--api-url", dead, "--datasets", "toy_arith",
                        "--dataset-args", json.dumps({"toy_arith": args}), "--work-dir", str(tmp_path))
        assert proc.returncode == 2 and says in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_pack_unpack_verify_and_tampering(venv, server, tmp_path):
    kit = tmp_path / "kit.tar"
    proc = evalpack(venv, "pack", "--datasets", "toy_arith", "--out", str(kit))
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(kit) as tar:
        assert "datasets/toy_arith/test.jsonl" in tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
    entry = manifest["datasets"][0]
    assert (entry["name"], entry["plugin"]) == ("toy_arith", PACKAGE)
    assert "bundled" not in entry  # no path of the packing machine goes into the kit

    data = tmp_path / "data"
    assert evalpack(venv, "unpack", str(kit), "--to", str(data)).returncode == 0
    ok = evalpack(venv, "verify", "--dataset-dir", str(data))
    assert ok.returncode == 0 and "toy_arith: 1 files checked, ok" in ok.stdout, ok.stdout + ok.stderr

    # the unpacked copy is what eval reads now; a changed digit (same size) fails verify and eval
    path = data / "toy_arith" / "test.jsonl"
    text = path.read_text()
    path.write_text(text.replace('"answer": 42', '"answer": 43'))
    bad = evalpack(venv, "verify", "--dataset-dir", str(data))
    assert bad.returncode == 1 and "CORRUPT toy_arith/test.jsonl" in bad.stdout, bad.stdout
    run = evalpack(venv, "eval", "--model", "mock", "--api-url", server.url, "--datasets", "toy_arith",
                   "--dataset-dir", str(data), "--work-dir", str(tmp_path / "runs"), "--quiet")
    assert run.returncode == 2 and "corrupt" in run.stderr and "test.jsonl" in run.stderr, run.stderr


def test_import_evalpack_stays_light(venv):
    code = ("import sys, evalpack; from evalpack.benchmarks import registry; "
            "print(sorted(m for m in sys.modules if m.startswith(('evalpack_toy', 'importlib.metadata'))))")
    proc = subprocess.run([str(venv), "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"  # no plugin, no entry-point scan until a name needs one


@pytest.fixture(scope="module")
def broken_venv(tmp_path_factory) -> Path:
    return make_venv(tmp_path_factory.mktemp("broken") / "venv", "plugin_broken", "plugin_toy_arith")


def test_a_broken_plugin_is_a_warning_and_stops_nothing(broken_venv, datasets_dir, tmp_path):
    proc = evalpack(broken_venv, "list")
    assert proc.returncode == 0, proc.stderr
    warnings = [x for x in proc.stderr.splitlines() if x.startswith("evalpack: warning:")]
    assert len(warnings) == 4 and all(BROKEN in w for w in warnings), proc.stderr
    said = "\n".join(warnings)
    assert "'broken_import'" in said and "ModuleNotFoundError" in said and "evalpack_no_such_dependency" in said
    assert "'broken_manifest'" in said and "absent.json cannot be read" in said
    assert "'not_a_declaration'" in said and "is a dict, not a BenchmarkInfo" in said
    assert "benchmark name 'mmlu'" in said and "the built-in one is kept" in said
    listed = {x.split()[0]: x for x in proc.stdout.splitlines() if x and not x.startswith((" ", "dataset dir"))}
    assert {"mmlu", "gsm8k", "toy_arith"} <= set(listed) and "plugin" not in listed["mmlu"]
    assert "Traceback" not in proc.stderr

    for name, says in (("broken_manifest", "absent.json cannot be read"), ("broken_import", "ModuleNotFoundError")):
        run = evalpack(broken_venv, "eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1", "--datasets", name,
                       "--work-dir", str(tmp_path))
        assert run.returncode == 2 and says in run.stderr and BROKEN in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
        packed = evalpack(broken_venv, "pack", "--datasets", name, "--out", str(tmp_path / "k.tar"))
        assert packed.returncode == 2 and BROKEN in packed.stderr, packed.stderr

    # a built-in run never looks at plugins: no warning, the real MMLU
    mock = MockProcess("--answer", "ANSWER: A")
    try:
        run = evalpack(broken_venv, "eval", "--model", "mock", "--api-url", mock.url, "--datasets", "mmlu",
                       "--dataset-dir", str(datasets_dir), "--limit", "2", "--quiet", "--work-dir", str(tmp_path),
                       "--dataset-args", json.dumps({"mmlu": {"subset_list": ["anatomy"]}}))
    finally:
        mock.stop()
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr
