"""What evalpack accepts from a plugin and what it refuses, one rule at a time. The plugins are
real distributions to importlib.metadata (a *.dist-info with entry_points.txt on PYTHONPATH, no
pip, so each case costs only a CLI start); tests/test_plugins.py installs one with pip."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import MockProcess, SRC, run_dir_of

DATA = b'{"id": "q1", "question": "What is 1 + 1?", "answer": "2"}\n'
DECLARATION = """
from evalpack.benchmarks.declaration import BenchmarkInfo
INFO = BenchmarkInfo(name={name!r}, entry="{module}.impl:One", title="One", description="one question",
                     subsets=("default",), manifest={manifest!r})
"""
IMPLEMENTATION = """
import json
from evalpack.benchmarks.base import Benchmark
from evalpack.types import Sample, Score

class One(Benchmark):
    {head}

    def load(self, data_dir, args):
        rows = [json.loads(x) for x in (self.root(data_dir, args) / "q.jsonl").read_text().splitlines()]
        return [Sample(r["id"], "default", r["answer"], [{{"role": "user", "content": r["question"]}}]) for r in rows]

    def score(self, sample, output, args):
        return Score(float((output.get("content") or "").strip() == sample.target), extracted=output.get("content"))
"""


def manifest(name: str, **changes) -> dict:
    m = {"name": name, "records": {"test": 1}, "bundled": name,
         "files": [{"path": "q.jsonl", "sha256": hashlib.sha256(DATA).hexdigest(), "size": len(DATA), "split": "test"}]}
    m.update(changes)
    return m


def plugin(site: Path, package: str, entries: dict[str, str], files: dict[str, str | bytes]) -> None:
    """A distribution named `package` (version 1.0) whose entry points are `entries`."""
    info = site / f"{package.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[evalpack.benchmarks]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    for rel, content in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def one_benchmark(site: Path, package: str, module: str, name: str, m: dict | None = None,
                  class_form: bool = False) -> None:
    files = {f"{module}/impl.py": IMPLEMENTATION.format(head=f'name = "{name}"'),
             f"{module}/{name}.json": json.dumps(m or manifest(name)), f"{module}/{name}/q.jsonl": DATA}
    if class_form:  # the entry point names the class; its `info` is the declaration
        files[f"{module}/__init__.py"] = ""
        files[f"{module}/impl.py"] = IMPLEMENTATION.format(head=(
            "from evalpack.benchmarks.declaration import BenchmarkInfo\n    info = BenchmarkInfo("
            f"name={name!r}, entry='', title='One', description='one question', subsets=('default',), "
            f"manifest='{name}.json')"))
        plugin(site, package, {name: f"{module}.impl:One"}, files)
    else:
        files[f"{module}/__init__.py"] = DECLARATION.format(name=name, module=module, manifest=f"{name}.json")
        plugin(site, package, {name: f"{module}:INFO"}, files)


def evalpack(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(site)]), "EVALPACK_DATA": str(site / "none")}
    return subprocess.run([sys.executable, "-m", "evalpack", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def warnings(proc) -> list[str]:
    return [x for x in proc.stderr.splitlines() if x.startswith("evalpack: warning:")]


def test_the_class_form_and_a_run_from_the_package_copy(tmp_path):
    site = tmp_path / "site"
    one_benchmark(site, "plug-class", "plug_class", "one_cls", class_form=True)
    one_benchmark(site, "plug-func", "plug_func", "one_func")  # the entry point names a function
    init = site / "plug_func" / "__init__.py"
    init.write_text(init.read_text() + "\ndef declarations():\n    return [INFO]\n")
    ep = next(site.glob("plug_func-*.dist-info")) / "entry_points.txt"
    ep.write_text(ep.read_text().replace("plug_func:INFO", "plug_func:declarations"))
    proc = evalpack(site, "list")
    assert proc.returncode == 0 and warnings(proc) == [], proc.stderr
    assert "plugin from plug-func 1.0" in next(x for x in proc.stdout.splitlines() if x.startswith("one_func "))
    assert "plugin from plug-class 1.0" in next(x for x in proc.stdout.splitlines() if x.startswith("one_cls "))
    mock = MockProcess("--answer", "2")
    try:
        run = evalpack(site, "eval", "--model", "mock", "--api-url", mock.url, "--datasets", "one_cls", "--quiet",
                       "--work-dir", str(tmp_path / "w"))
        assert run.returncode == 0, run.stderr
        assert json.loads((run_dir_of(run) / "report.json").read_text())["datasets"][0]["score"] == 1.0
        # the package's own copy is checked like a dataset dir: a changed byte stops the run before any request
        (site / "plug_class" / "one_cls" / "q.jsonl").write_bytes(DATA.replace(b'"2"', b'"3"'))
        before = mock.stats()
        bad = evalpack(site, "eval", "--model", "mock", "--api-url", mock.url, "--datasets", "one_cls", "--quiet",
                       "--work-dir", str(tmp_path / "w2"))
        assert bad.returncode == 2 and "corrupt" in bad.stderr and "q.jsonl" in bad.stderr, bad.stderr
        assert mock.stats() == before
    finally:
        mock.stop()
    assert "in its package, BROKEN (1 files)" in evalpack(site, "list").stdout


def test_each_manifest_mistake_is_one_warning_naming_package_and_problem(tmp_path):
    site = tmp_path / "site"
    cases = {  # benchmark -> (its manifest, what the warning says)
        "bad_sha": (manifest("bad_sha", files=[{"path": "q.jsonl", "sha256": "abc", "size": 1}]), "has no sha256"),
        "escapes": (manifest("escapes", files=[{"path": "../q.jsonl", "sha256": "0" * 64, "size": 1}]),
                    "leaves the dataset dir"),
        "other_dir": (manifest("elsewhere"), "is for the dataset dir 'elsewhere', but the benchmark reads 'other_dir'"),
        "no_folder": (manifest("no_folder", bundled="absent"), "bundled folder"),
        "kit_hook": (manifest("kit_hook", kit="os"), "names a kit hook"),
        "mmlu_dir": (manifest("mmlu"), None),  # a plugin benchmark reading the built-in mmlu dir: refused
    }
    for i, (name, (m, _)) in enumerate(cases.items()):
        if name == "mmlu_dir":
            files = {f"p{i}/__init__.py": DECLARATION.format(name=name, module=f"p{i}", manifest="m.json").replace(
                "subsets=", "data_dirname='mmlu', subsets="), f"p{i}/m.json": json.dumps(m), f"p{i}/mmlu/q.jsonl": DATA}
            plugin(site, f"pkg-{name}", {name: f"p{i}:INFO"}, files)
        else:
            one_benchmark(site, f"pkg-{name}", f"p{i}", name, m)
    one_benchmark(site, "pkg-first", "first", "twice")
    one_benchmark(site, "pkg-second", "second", "twice")  # the same name from another package
    proc = evalpack(site, "list")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    said = warnings(proc)
    for name, (_, problem) in cases.items():
        line = next((w for w in said if f"pkg-{name} 1.0" in w), "")
        assert line, (name, proc.stderr)
        assert (problem or "dataset dir 'mmlu', which a built-in benchmark uses") in line, line
    assert any("pkg-second 1.0" in w and "already declared by pkg-first 1.0" in w for w in said), said
    assert len(said) == len(cases) + 1
    listed = {x.split()[0] for x in proc.stdout.splitlines() if x and not x.startswith(" ")}
    assert "twice" in listed and "mmlu" in listed and not listed & set(cases)
    for name in ("bad_sha", "escapes"):  # a broken plugin's benchmark: exit 2, the sentence
        run = evalpack(site, "eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1", "--datasets", name)
        assert run.returncode == 2 and f"pkg-{name} 1.0 is broken" in run.stderr, run.stderr
    # verify of a dataset dir that holds the built-in mmlu is not confused by the plugin that wanted its dir
    mmlu = evalpack(site, "list", "mmlu")
    assert mmlu.returncode == 0 and "plugin" not in next(x for x in mmlu.stdout.splitlines() if x.startswith("mmlu "))


def test_the_quick_scan_defers_to_importlib_metadata_when_unsure(tmp_path, monkeypatch):
    from evalpack import plugins

    site = tmp_path / "site"
    plugin(site, "other", {}, {})
    (site / "other-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nx = y:z\n")
    (site / "old.egg-info").write_text("Metadata-Version: 1.0\n")  # a distutils-era file, not a folder
    monkeypatch.setattr(sys, "path", [str(site), str(tmp_path / "absent")])
    assert plugins.none_installed()
    plugin(site, "plug", {"x": "m:INFO"}, {})
    assert not plugins.none_installed()
    zipped = tmp_path / "lib.zip"
    zipped.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    monkeypatch.setattr(sys, "path", [str(zipped)])
    assert not plugins.none_installed()


def test_a_taken_alias_is_dropped_with_a_warning(tmp_path):
    site = tmp_path / "site"
    one_benchmark(site, "pkg-alias", "palias", "mine")
    init = site / "palias" / "__init__.py"
    init.write_text(init.read_text().replace("subsets=", "aliases=('hmmt', 'my_alias'), subsets="))
    proc = evalpack(site, "list", "my_alias")
    assert proc.returncode == 0, proc.stderr
    assert warnings(proc) == ["evalpack: warning: plugin benchmark 'mine' of package pkg-alias 1.0: its aliases "
                              "hmmt are taken by other benchmarks and are not used"]
    assert "plugin from pkg-alias 1.0" in proc.stdout


def test_an_implementation_that_fails_to_import_is_exit_2_naming_the_package(tmp_path):
    site = tmp_path / "site"
    one_benchmark(site, "pkg-impl", "pimpl", "bad_impl")
    (site / "pimpl" / "impl.py").write_text("import evalpack_no_such_module\n")
    listed = evalpack(site, "list")
    assert listed.returncode == 0 and warnings(listed) == []  # listing reads the declaration only
    run = evalpack(site, "eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "bad_impl")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "plugin benchmark 'bad_impl' of package pkg-impl 1.0 cannot be loaded" in run.stderr
    assert "evalpack_no_such_module" in run.stderr


def test_a_plugin_whose_loader_fails_is_exit_2_naming_the_package(tmp_path):
    site = tmp_path / "site"
    one_benchmark(site, "pkg-load", "pload", "bad_load")
    impl = site / "pload" / "impl.py"
    impl.write_text(impl.read_text().replace('r["answer"]', 'r["no_such_field"]'))
    mock = MockProcess("--answer", "2")
    try:
        run = evalpack(site, "eval", "--model", "mock", "--api-url", mock.url, "--datasets", "bad_load",
                       "--work-dir", str(tmp_path / "w"))
        assert mock.stats()["chat_requests"] == 0
    finally:
        mock.stop()
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert "plugin benchmark 'bad_load' of package pkg-load 1.0 failed reading its data (KeyError" in run.stderr
