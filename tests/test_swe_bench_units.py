"""SWE-bench pieces that need no Docker: diff extraction, git checks, log parsers, specs,
oracle prompts, git bundles, and the message when Docker is missing.

Real data: the 50 instances of ../shared/datasets/swe_bench_verified_mini, and the
synthetic tinycalc repository of tests/fixtures/swe_synthetic (built as a real git repo).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalpack.benchmarks import registry
from evalpack import docker_engine
from evalpack.benchmarks.swe_bench import harness, images
from evalpack.benchmarks.swe_bench.patch_extract import check_patch, extract_diff
from evalpack.benchmarks.swe_bench.specs import BUILTIN, load_extra_specs, spec_for, select_tests
from evalpack.errors import DataMissingError, UsageError

FIXTURE = Path(__file__).parent / "fixtures" / "swe_synthetic"
sys.path.insert(0, str(FIXTURE))
from make_repo import make_repo  # noqa: E402


def instances(path: Path) -> dict[str, dict]:
    with open(path, encoding="utf-8") as fh:
        return {r["instance_id"]: r for r in map(json.loads, fh)}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """(git dir of the tinycalc repo, its instances); the sha must match test.jsonl."""
    repo = tmp_path_factory.mktemp("tc") / "tinycalc"
    sha = make_repo(repo)
    rows = instances(FIXTURE / "test.jsonl")
    assert {r["base_commit"] for r in rows.values()} == {sha}, "fixture repo no longer matches test.jsonl"
    return repo, rows


@pytest.fixture(scope="module")
def real(datasets_dir):
    return instances(datasets_dir / "swe_bench_verified_mini" / "test.jsonl")


# --- diff extraction -------------------------------------------------------------------

def test_fenced_diff_is_taken_and_prose_around_it_dropped(real):
    gold = real["django__django-11790"]["patch"]
    reply = f"The bug is in forms.py.\n\n```diff\n{gold}```\n\nThis sets max_length."
    assert extract_diff(reply) == gold


def test_unfenced_diff_ends_at_the_first_line_of_prose(real):
    gold = real["sphinx-doc__sphinx-8721"]["patch"]
    assert extract_diff(f"Here it is:\n{gold}\nHope this helps!\n") == gold


def test_several_fenced_blocks_are_joined_and_thinking_is_ignored(synthetic):
    _, rows = synthetic
    a, b = rows["evalpack__tinycalc-1"]["patch"], rows["evalpack__tinycalc-2"]["patch"]
    reply = f"<think>```diff\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n```</think>First:\n```diff\n{a}```\nthen\n```patch\n{b}```"
    assert extract_diff(reply) == a + b


def test_no_diff_in_a_reply_gives_empty():
    assert extract_diff("I think the fix is to return high instead of value.") == ""
    assert extract_diff("```python\nreturn high\n```") == ""
    assert extract_diff(None) == ""


# --- git checks --------------------------------------------------------------------------

def test_gold_patch_passes_git_apply_check_and_a_stale_one_does_not(synthetic):
    repo, rows = synthetic
    inst = rows["evalpack__tinycalc-1"]
    ok = check_patch(inst["patch"], images.open_repo(repo), inst["base_commit"])
    assert ok.ok and ok.applies and ok.files == ("tinycalc/ops.py",)
    stale = inst["patch"].replace("        return value\n+        return high", "        return valu\n+        return high")
    bad = check_patch(stale, images.open_repo(repo), inst["base_commit"])
    assert bad.ok and bad.applies is False and "patch does not apply" in bad.reason


def test_malformed_diff_is_rejected_with_the_reason():
    broken = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n only one line\n"
    result = check_patch(broken)
    assert not result.ok and result.reason.startswith("malformed diff") and "corrupt patch" in result.reason
    assert check_patch("").reason == "no diff found in the reply"


# --- log parsers -------------------------------------------------------------------------

PYTEST_LOG = """\
tests/test_ext_viewcode.py ..F                                          [100%]
=========================== short test summary info ============================
PASSED tests/test_ext_viewcode.py::test_viewcode
PASSED tests/test_pycode_ast.py::test_unparse[(1, 2, 3)-(1, 2, 3)]
FAILED tests/test_ext_viewcode.py::test_viewcode_epub_default - AssertionError: assert not True
SKIPPED [1] tests/test_build.py:12: needs docutils
XFAIL tests/test_util.py::test_known_bug
ERROR tests/test_build_linkcheck.py::test_defaults - OSError
\x1b[32mPASSED\x1b[0m tests/test_colour.py::test_green
"""


def test_pytest_parser_reads_the_short_summary_like_swe_bench():
    s = harness.parse_pytest(PYTEST_LOG)
    assert s["tests/test_ext_viewcode.py::test_viewcode"] == "PASSED"
    # SWE-bench keeps only the first word of a parametrized id with spaces
    assert s["tests/test_pycode_ast.py::test_unparse[(1,"] == "PASSED"
    assert s["tests/test_ext_viewcode.py::test_viewcode_epub_default"] == "FAILED"
    assert s["tests/test_util.py::test_known_bug"] == "XFAIL"
    assert s["tests/test_build_linkcheck.py::test_defaults"] == "ERROR"
    assert s["tests/test_colour.py::test_green"] == "PASSED"


DJANGO_LOG = """\
Testing against Django installed in '/testbed/django'
Creating test database for alias 'default'...
test_html_autocomplete_attributes (auth_tests.test_forms.AdminPasswordChangeFormTest) ... ok
test_username_field_max_length_defaults_to_254 (auth_tests.test_forms.AuthenticationFormTest) ... FAIL
test_success (auth_tests.test_forms.AuthenticationFormTest)
A user with a usable password can log in. ... ok
test_inactive_user (auth_tests.test_forms.AuthenticationFormTest) ... some warning printed here
ok
test_unicode (auth_tests.test_forms.UserCreationFormTest) ... skipped 'no unicode'
test_bug (auth_tests.test_forms.UserCreationFormTest) ... expected failure
test_crash (auth_tests.test_forms.UserCreationFormTest) ... ERROR

======================================================================
FAIL: test_username_field_max_length_defaults_to_254 (auth_tests.test_forms.AuthenticationFormTest)
"""


def test_django_parser_follows_swe_bench_names_including_docstring_lines():
    s = harness.parse_django(DJANGO_LOG)
    assert s["test_html_autocomplete_attributes (auth_tests.test_forms.AdminPasswordChangeFormTest)"] == "PASSED"
    assert s["test_username_field_max_length_defaults_to_254 (auth_tests.test_forms.AuthenticationFormTest)"] == "FAILED"
    assert s["A user with a usable password can log in."] == "PASSED"
    assert s["test_inactive_user (auth_tests.test_forms.AuthenticationFormTest)"] == "PASSED"
    assert s["test_unicode (auth_tests.test_forms.UserCreationFormTest)"] == "SKIPPED"
    assert s["test_bug (auth_tests.test_forms.UserCreationFormTest)"] == "XFAIL"
    assert s["test_crash (auth_tests.test_forms.UserCreationFormTest)"] == "ERROR"


def test_resolved_needs_every_fail_to_pass_and_pass_to_pass_test(real):
    inst = real["django__django-11790"]
    f2p, p2p = json.loads(inst["FAIL_TO_PASS"]), json.loads(inst["PASS_TO_PASS"])
    everything = {t: "PASSED" for t in f2p + p2p}
    assert harness.judge(inst, everything)["resolved"]
    one_p2p_broken = {**everything, p2p[0]: "FAILED"}
    report = harness.judge(inst, one_p2p_broken)
    assert not report["resolved"] and report["PASS_TO_PASS"]["failure"] == [p2p[0]]
    missing = {t: s for t, s in everything.items() if t != f2p[-1]}
    assert harness.judge(inst, missing)["FAIL_TO_PASS"]["failure"] == [f2p[-1]]


# --- specs and test selection -------------------------------------------------------------

def test_every_real_instance_has_an_environment_spec_and_test_selection(real, datasets_dir):
    assert len(real) == 50
    import hashlib

    (declared,) = [f for f in registry.get("swe_bench_verified_mini").data_files() if f.path == "test.jsonl"]
    data = (datasets_dir / "swe_bench_verified_mini" / declared.path).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (declared.size, declared.sha256)
    for inst in real.values():
        spec = spec_for(inst["repo"], inst["version"])
        tests = select_tests(spec, inst["test_patch"])
        assert tests, inst["instance_id"]
        if inst["repo"] == "django/django":
            assert spec.python == "3.6" and all("/" not in t and not t.endswith(".py") for t in tests)
        else:
            assert spec.python == "3.9" and all(t.startswith("tests/test_") for t in tests)
    assert select_tests(spec_for("django/django", "3.1"), real["django__django-11790"]["test_patch"]) == \
        ["auth_tests.test_forms"]
    assert select_tests(spec_for("sphinx-doc/sphinx", "4.1"), real["sphinx-doc__sphinx-9229"]["test_patch"]) == \
        ["tests/test_ext_autodoc_autoclass.py"]
    # every pin is exact: a later release cannot change a rebuilt image
    for versions in BUILTIN.values():
        for spec in versions.values():
            assert all("==" in p for p in spec.packages)


def test_unknown_version_and_bad_specs_file_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no environment spec for django/django version 9.9"):
        spec_for("django/django", "9.9")
    (tmp_path / "specs.json").write_text(json.dumps({"a/b": {"1": {"python": "3.9", "colour": "red"}}}))
    with pytest.raises(UsageError, match="bad spec for a/b 1"):
        load_extra_specs(tmp_path / "specs.json")


# --- the benchmark: oracle prompts, repos from bundles --------------------------------------

def no_engine_check(bench):
    bench.check_engine = False  # building prompts needs no Docker; scoring does
    return bench


def test_oracle_prompt_holds_the_issue_and_the_numbered_files_the_gold_patch_touches(synthetic, tmp_path):
    repo, rows = synthetic
    bench = no_engine_check(registry.get("swe_bench_verified_mini"))
    args = bench.resolve_args({"local_path": str(FIXTURE), "extra_params": {"repos": {"evalpack/tinycalc": str(repo)}}})
    samples = {s.id: s for s in bench.load(tmp_path, args)}
    assert sorted(samples) == sorted(rows)
    prompt = samples["evalpack__tinycalc-1"].messages[0]["content"]
    assert rows["evalpack__tinycalc-1"]["problem_statement"].strip() in prompt
    assert "[start of tinycalc/ops.py]" in prompt and "[end of tinycalc/ops.py]" in prompt
    assert "16         return value" in prompt  # line 16 of ops.py at base_commit, numbered
    assert "tests/test_ops.py" not in prompt  # the test files are not shown (oracle = gold patch files)
    assert samples["evalpack__tinycalc-3"].metadata["spec"]["parser"] == "django"
    only = bench.resolve_args({**args, "extra_params": {**args["extra_params"], "instance_ids": ["evalpack__tinycalc-2"]}})
    assert [s.id for s in bench.load(tmp_path, only)] == ["evalpack__tinycalc-2"]


def test_git_bundles_carry_the_base_commits_and_feed_the_benchmark(synthetic, tmp_path):
    repo, rows = synthetic
    report = images.make_git_bundles(list(rows.values()), {"evalpack/tinycalc": repo}, tmp_path / "repos")
    assert report["evalpack/tinycalc"]["commits"] == 1
    bundle = tmp_path / "repos" / "evalpack__tinycalc.bundle"
    assert report["evalpack/tinycalc"]["sha256"] == images.sha256_of(bundle)
    subprocess.run(["git", "bundle", "verify", str(bundle)], check=True, capture_output=True)
    opened = images.open_repo(bundle)
    assert images.has_commit(opened, rows["evalpack__tinycalc-1"]["base_commit"])
    # the benchmark finds <repos>/<owner>__<name>.bundle by itself
    bench = no_engine_check(registry.get("swe_bench_verified_mini"))
    args = bench.resolve_args({"local_path": str(FIXTURE), "extra_params": {"repos": str(tmp_path / "repos")}})
    assert len(bench.load(tmp_path, args)) == 3


def test_missing_repository_is_a_data_error_that_says_how_to_get_it(tmp_path):
    bench = no_engine_check(registry.get("swe_bench_verified_mini"))
    args = bench.resolve_args({"local_path": str(FIXTURE)})
    with pytest.raises(DataMissingError, match="no git history of evalpack/tinycalc.*--with-images"):
        bench.load(tmp_path, args)
    with pytest.raises(UsageError, match="unknown extra_params"):
        bench.resolve_args({"extra_params": {"timeout_s": 5}})


def test_without_docker_the_message_says_what_to_install_and_how_to_start_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker binary anywhere
    ok, reason = docker_engine.available()
    assert not ok and "apt-get install docker.io" in reason and "dockerd" in reason
    fake = tmp_path / "docker"  # a CLI whose daemon is down
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n")
    fake.chmod(0o755)
    ok, reason = docker_engine.available()
    assert not ok and "daemon is not running" in reason and "--bridge=none" in reason
    # an eval stops at plan time with that message (exit 2), before any request
    bench = registry.get("swe_bench_verified_mini")
    with pytest.raises(docker_engine.DockerUnavailable, match="apt-get install docker.io"):
        bench.load(tmp_path, bench.resolve_args({"local_path": str(FIXTURE)}))


def test_eval_without_docker_exits_2_with_the_fix_before_any_request(mock_server, tmp_path):
    from conftest import run_evalpack

    server = mock_server()
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "swe_bench_verified_mini",
                        "--dataset-args", json.dumps({"swe_bench_verified_mini": {"local_path": str(FIXTURE)}}),
                        "--dataset-dir", str(tmp_path), "--work-dir", str(tmp_path / "out"), "--quiet",
                        env={"PATH": str(tmp_path)})  # a PATH without docker
    assert proc.returncode == 2, proc.stderr
    assert "apt-get install docker.io" in proc.stderr and "Traceback" not in proc.stderr
    assert server.stats()["chat_requests"] == 0
