"""`evalpack list`: the overview, one benchmark in full, the generated README table and docs page.

Each runs the real CLI in a subprocess on the shared datasets (read-only) or on a small copy
made in tmp_path; nothing is mocked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, SRC, run_evalpack
from evalpack.datasets import listing

REGENERATE = "python scripts/update_benchmark_docs.py (it writes `evalpack list --markdown` and `--docs`)"


def test_readme_table_is_the_generated_one():
    generated = run_evalpack("list", "--markdown")
    assert generated.returncode == 0, generated.stderr
    in_readme = listing.readme_table((REPO / "README.md").read_text(encoding="utf-8"))
    assert in_readme is not None, f"README.md lacks the table's marker comments; run {REGENERATE}"
    assert in_readme == generated.stdout, f"README.md's benchmark table is stale; regenerate it: {REGENERATE}"


def test_docs_benchmarks_page_is_the_generated_one():
    generated = run_evalpack("list", "--docs")
    assert generated.returncode == 0, generated.stderr
    page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert page == generated.stdout, f"docs/benchmarks.md is stale; regenerate it: {REGENERATE}"


def test_the_table_has_one_row_per_benchmark_with_its_doc_link():
    from evalpack.benchmarks import registry

    rows = [line for line in listing.markdown_table().splitlines() if line.startswith("| `")]
    assert [re.match(r"\| `([^`]+)`", r).group(1) for r in rows] == list(registry.BENCHMARKS)
    for row in rows:
        for link in re.findall(r"\]\((docs/[^)]+)\)", row):
            assert (REPO / link).is_file(), f"{row[:40]}: {link} does not exist"


def modules_loaded_by(argv: list[str], **env: str) -> set[str]:
    """The modules a fresh interpreter holds after `evalpack ARGV` (its output swallowed), which
    must exit 0."""
    code = ("import sys, io, contextlib\n"
            "from evalpack.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        status = main(%r)\n    except SystemExit as e:\n        status = e.code\n"
            "print(status or 0, ' '.join(sorted(sys.modules)))\n" % argv)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC), **env})
    status, *loaded = proc.stdout.split()
    assert proc.returncode == 0 and status == "0", proc.stderr
    return set(loaded)


def test_list_imports_no_benchmark_module_and_no_run_machinery():
    loaded = modules_loaded_by(["list"], EVALPACK_DATA="/nonexistent")
    assert "evalpack.benchmarks.registry" in loaded
    allowed = {"evalpack.benchmarks", "evalpack.benchmarks.registry", "evalpack.benchmarks.declaration"}
    assert {m for m in loaded if m.startswith("evalpack.benchmarks")} == allowed, loaded
    for heavy in ("aiohttp", "yaml", "evalpack.config", "evalpack.runner", "evalpack.client", "evalpack.doctor",
                  "evalpack.perf.cli", "evalpack.adapter"):
        assert heavy not in loaded, f"`evalpack list` imports {heavy}"


def test_help_builds_every_parser_without_the_run_machinery():
    loaded = modules_loaded_by(["--help"])
    assert {"evalpack.doctor", "evalpack.perf.cli", "evalpack.merge"} <= loaded, loaded  # every command
    for heavy in ("aiohttp", "yaml", "logging", "evalpack.config", "evalpack.benchmarks.registry",
                  "evalpack.datasets.registry"):
        assert heavy not in loaded, f"`evalpack --help` imports {heavy}"


def test_nothing_found_says_how_to_get_data(tmp_path, datasets_dir):
    proc = run_evalpack("list", env={"EVALPACK_DATA": "", "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"No benchmark data in {tmp_path}/.cache/evalpack/datasets (the default" in out
    assert "evalpack pack --datasets" in out and "evalpack unpack evalpack-data.tar --to" in out
    assert "--dataset-dir" in out and "EVALPACK_DATA" in out and "evalpack demo" in out
    with_data = run_evalpack("list", "--dataset-dir", str(datasets_dir))
    assert "No benchmark data" not in with_data.stdout


def test_longbench_v2_without_questions_is_not_verified(datasets_dir, tmp_path):
    rows = _rows(run_evalpack("list", "--dataset-dir", str(datasets_dir)).stdout)
    assert "verified" not in rows["longbench_v2"].split("  ")[-1].split(" (")[0], rows["longbench_v2"]
    assert "no questions" in rows["longbench_v2"]
    assert rows["mmlu"].endswith("verified")
    # with a questions file the registry cannot vouch for: said to be unverified, never "verified"
    data = tmp_path / "data"
    shutil.copytree(datasets_dir / "longbench_v2", data / "longbench_v2")
    (data / "longbench_v2" / "data.json").write_text("[]", encoding="utf-8")
    proc = run_evalpack("list", "--dataset-dir", str(data), "longbench_v2")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("longbench_v2") and first.endswith(
        "questions unverified (1 files the registry does not list; its own verified)"), first
    assert "not in the registry (unverified): data.json" in proc.stdout
    assert "the registry has no questions: the 503 questions" in proc.stdout


def test_one_benchmark_in_full_with_the_state_of_each_file(datasets_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(datasets_dir / "gsm8k", data / "gsm8k")
    test_file = data / "gsm8k" / "test.jsonl"
    test_file.chmod(0o644)
    text = test_file.read_bytes()
    test_file.write_bytes(text[:10] + (b"X" if text[10:11] != b"X" else b"Y") + text[11:])  # same size
    proc = run_evalpack("list", "--dataset-dir", str(data), "gsm8k")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0].startswith("gsm8k") and out.splitlines()[0].endswith("CORRUPT (1 files)")
    assert "GSM8K: 1,319 grade-school math word problems" in out
    assert re.search(r"^  few_shot_num\s+int 0\.\.100; default 0$", out, re.M), out
    assert re.search(r"^  verify_timeout\s+float >0\.\.; default 30\.0$", out, re.M), out
    assert re.search(r"^\s+solved examples from the first rows of train\.jsonl$", out, re.M)
    assert re.search(r"^    main\s+1319$", out, re.M)  # subset with its records
    sha = next(line for line in out.splitlines() if line.strip().startswith("test.jsonl"))
    assert re.search(r"test\.jsonl\s+\S+ KB\s+[0-9a-f]{12}\s+corrupt: sha256 ", sha), sha
    ok = run_evalpack("list", "--dataset-dir", str(datasets_dir), "gsm8k", "hmmt")  # an alias resolves
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"^  test\.jsonl\s.*\s[0-9a-f]{12}\s+verified", ok.stdout, re.M)
    assert re.search(r"^hmmt25 ", ok.stdout, re.M)
    shutil.copytree(datasets_dir / "humanevalplus", data / "humanevalplus")
    (data / "humanevalplus" / "HumanEvalPlus-Mini.jsonl.gz").unlink()
    one = run_evalpack("list", "--dataset-dir", str(data), "humaneval_plus").stdout
    assert re.search(r"^  HumanEvalPlus-Mini\.jsonl\.gz\s.*\s[0-9a-f]{12}\s+missing  \(optional\)$", one, re.M), one
    assert re.search(r"^  HumanEvalPlus\.jsonl\.gz\s.*\s[0-9a-f]{12}\s+verified  \(test\)$", one, re.M), one


def test_secret_defaults_are_never_shown():
    proc = run_evalpack("list", "tau2_bench")
    assert re.search(r"^    api_key\s+str or null; default \(secret\)$", proc.stdout, re.M), proc.stdout


@pytest.mark.parametrize("name,close", [("mmlux", "mmlu"), ("gsm8", "gsm8k"), ("nosuchbench", None)])
def test_unknown_name_is_exit_2_with_the_close_names(name, close):
    proc = run_evalpack("list", name)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and repr(name) in proc.stderr
    if close:
        assert f"Did you mean {close}" in proc.stderr, proc.stderr
    assert "mmlu_pro" in proc.stderr  # the known names


def test_markdown_takes_no_names():
    proc = run_evalpack("list", "--markdown", "mmlu")
    assert proc.returncode == 2 and "give no NAME" in proc.stderr


@pytest.mark.parametrize("command", ["list", "mock", "rescore", "report", "compare", "demo"])
def test_every_option_has_help(command):
    from evalpack.cli import build_parser

    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    for action in sub._actions:
        assert action.help, f"`evalpack {command}` {action.option_strings or action.dest} has no help"


def test_mock_help_says_what_it_answers():
    proc = run_evalpack("mock", "--help")
    text = " ".join(proc.stdout.split())
    assert "Every chat request gets the same reply, --answer (default 'ANSWER: A'" in text
    assert "evalpack demo" in text  # the other mock, which varies its letter


def test_each_command_builds_only_its_parser():
    from evalpack.cli import build_parser

    only = next(a for a in build_parser("pack")._actions if a.dest == "command").choices
    assert {"pack", "unpack", "verify"} <= set(only) and "perf" not in only and "eval" not in only
    every = next(a for a in build_parser(None)._actions if a.dest == "command").choices
    assert {"eval", "list", "perf", "doctor", "adapter", "pack"} <= set(every)
    typo = run_evalpack("lst")
    assert typo.returncode == 2 and "invalid choice" in typo.stderr and "'list'" in typo.stderr


def _rows(stdout: str) -> dict[str, str]:
    return {line.split()[0]: line for line in stdout.splitlines() if line.strip() and not line.startswith(" ")}
