"""Property tests: any value of a flag, a YAML key or a dataset arg gives exit 0 or one sentence.

Hypothesis draws the values (NaN, Infinity, huge and negative numbers, text, bytes, lists,
maps); the CLI's own `main` runs in this process against a real `evalpack mock` on
127.0.0.1, so a value that is valid really runs (one MMLU question). What must never happen:
a traceback, an "internal error", or more than one line on stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalpack.cli import main

EXAMPLES = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["nan", "inf", "-inf", "1e999", "1.5", "0", "-3", "abc", "", "1e12", "0.5"]))
values = st.one_of(scalars, st.binary(max_size=8), st.lists(scalars, max_size=3),
                   st.dictionaries(st.text(max_size=6), scalars, max_size=2))


@pytest.fixture(scope="module")
def server():
    from conftest import MockProcess

    mock = MockProcess()
    yield mock
    mock.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("props")


def run_main(argv: list[str], cwd: Path) -> tuple[int, str]:
    err = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)  # a relative --work-dir or dataset dir drawn by Hypothesis lands here, not in the repo
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse's own exit 2
                code = e.code if isinstance(e.code, int) else 2
    finally:
        os.chdir(old)
    return code, err.getvalue()


def assert_one_sentence(code: int, err: str, what) -> None:
    assert code != 70 and "Traceback" not in err, (what, err)
    if code:  # one sentence first; a missing dataset adds the lines of its fix below it
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and lines[0].startswith("evalpack: "), (what, code, err)
        assert len(lines) == 1 or "dataset" in lines[0], (what, code, err)


def base_flags(server, datasets_dir, work: Path) -> list[str]:
    return ["eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu", "--dataset-dir",
            str(datasets_dir), "--work-dir", str(work / "out"), "--quiet", "--ignore-errors"]


@EXAMPLES
@given(flag=st.sampled_from(["--limit", "--eval-batch-size", "--seed", "--timeout"]),
       value=st.one_of(scalars.map(str), st.text(max_size=10)))
def test_any_number_flag_is_a_run_or_one_sentence(server, datasets_dir, workdir, flag, value):
    argv = base_flags(server, datasets_dir, workdir) + ["--dataset-args", '{"mmlu": {"subset_list": ["anatomy"], '
                                                        '"few_shot_num": 0}}', "--limit", "1", flag, value]
    if value.startswith("-"):
        argv[-2:] = [f"{flag}={value}"]
    code, err = run_main(argv, workdir)
    assert_one_sentence(code, err, (flag, value))


@EXAMPLES
@given(config=st.dictionaries(st.sampled_from(["temperature", "top_p", "max_tokens", "timeout", "retries",
                                               "retry_interval", "stop", "seed", "top_k", "stream",
                                               "extra_body", "presence_penalty", "n", "do_sample"]),
                              values, max_size=3))
def test_any_generation_config_is_a_run_or_one_sentence(server, datasets_dir, workdir, config):
    text = json.dumps(config, default=lambda b: b.decode("latin-1"))  # NaN/Infinity stay as JSON allows
    argv = base_flags(server, datasets_dir, workdir) + [
        "--dataset-args", '{"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}', "--limit", "1",
        "--generation-config", text]
    code, err = run_main(argv, workdir)
    assert_one_sentence(code, err, config)


@EXAMPLES
@given(overrides=st.dictionaries(st.sampled_from(["model", "api_url", "datasets", "dataset_args", "limit",
                                                  "eval_batch_size", "seed", "quiet", "fresh", "timeout",
                                                  "stream", "generation_config", "work_dir", "dataset_dir",
                                                  "use_cache", "sandbox", "eval_type", "nonsense"]),
                                 values, max_size=2))
def test_any_yaml_value_is_a_run_or_one_sentence(server, datasets_dir, workdir, overrides):
    config = {"model": "mock", "api_url": server.url, "datasets": ["mmlu"], "dataset_dir": str(datasets_dir),
              "work_dir": str(workdir / "out"), "limit": 1, "quiet": True,
              "dataset_args": {"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}}
    config.update(overrides)
    path = workdir / "run.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    code, err = run_main(["eval", "--config", str(path), "--ignore-errors"], workdir)
    assert_one_sentence(code, err, overrides)


@EXAMPLES
@given(blob=st.binary(max_size=200))
def test_any_bytes_as_yaml_are_one_sentence(workdir, blob):
    path = workdir / "random.yaml"
    path.write_bytes(blob)
    code, err = run_main(["eval", "--config", str(path)], workdir)
    assert code == 2
    assert_one_sentence(code, err, blob)


@EXAMPLES
@given(args=st.dictionaries(st.sampled_from(["few_shot_num", "subset_list", "repeats", "seed", "system_prompt",
                                             "prompt_template", "few_shot_random", "local_path", "nonsense"]),
                            values, max_size=2),
       dataset=st.sampled_from(["mmlu", "gsm8k", "ceval"]))
def test_any_dataset_args_are_a_run_or_one_sentence(server, datasets_dir, workdir, args, dataset):
    argv = base_flags(server, datasets_dir, workdir) + [
        "--limit", "1", "--dataset-args",
        json.dumps({"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0, **(args if dataset == "mmlu" else {})},
                    **({dataset: args} if dataset != "mmlu" else {})}, default=lambda b: b.decode("latin-1"))]
    code, err = run_main(argv, workdir)
    assert_one_sentence(code, err, (dataset, args))
