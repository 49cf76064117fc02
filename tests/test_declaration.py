"""Benchmark declarations (registry.py) and the one --dataset-args validator.

Unit checks call `resolve_args` on the real registry entries; the CLI checks run the real
`evalpack eval` in a subprocess and expect exit 2 with one sentence and no traceback, before
any request (the mock server counts them)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest

from conftest import run_evalpack
from evalpack.benchmarks import registry
from evalpack.benchmarks.declaration import Arg, BenchmarkInfo, check_template, resolve_args
from evalpack.errors import UsageError

SRC = Path(__file__).resolve().parents[1] / "src" / "evalpack"


def test_every_benchmark_is_declared_as_data_and_its_class_agrees():
    for name in registry.names():
        info = registry.BENCHMARKS[name]
        assert isinstance(info, BenchmarkInfo), f"{name} is registered as a bare import path"
        bench = registry.get(name)
        assert type(bench).info is info, f"{name}: {info.entry} does not name the defining module"
        assert (bench.name, bench.title, bench.subsets, bench.split, bench.metric) == (
            info.name, info.title, info.subsets, info.split, info.metric)
        assert bench.data_dirname == info.dirname
        assert bench.resolve_args({}) == bench.default_args
        for arg in info.all_args():
            assert arg.help, f"{name}.{arg.name} has no help line"


def test_registry_subsets_match_the_modules_that_use_them():
    from evalpack.benchmarks.bfcl.data import SUPPORTED
    from evalpack.benchmarks.mmlu import SUBJECT_CATEGORY
    from evalpack.benchmarks.tau_bench.env import DOMAINS
    from evalpack.scoring import math_equiv

    assert registry.info("bfcl_v4").subsets == SUPPORTED
    assert set(registry.info("mmlu").subsets) == set(SUBJECT_CATEGORY)
    assert registry.info("tau_bench").subsets == DOMAINS
    for name in ("gsm8k", "math_500", "minerva_math"):
        assert registry.get(name).default_args["verify_timeout"] == math_equiv.DEFAULT_TIMEOUT


@pytest.mark.parametrize("name,args,words", [
    ("mmlu", {"few_shot_num": "abc"}, "few_shot_num must be an integer"),
    ("mmlu", {"few_shot_num": -3}, "between 0 and 100"),
    ("mmlu", {"few_shot_num": 2.5}, "must be an integer"),
    ("mmlu", {"few_shot_num": True}, "must be an integer"),
    ("mmlu", {"subset_list": 5}, "subset_list must be a list of names"),
    ("mmlu", {"subset_list": ["anatomy", 3]}, "subset_list must be a list of names"),
    ("mmlu", {"subset_list": ["no_such"]}, "has no subset 'no_such'"),
    ("mmlu", {"repeats": "x"}, "repeats must be an integer"),
    ("mmlu", {"repeats": 1e12}, "repeats must be an integer"),
    ("mmlu", {"repeats": 10**12}, "between 1 and 1000"),
    ("mmlu", {"repeats": 0}, "between 1 and 1000"),
    ("mmlu", {"few_shots": 1}, "unknown key 'few_shots' for mmlu"),
    ("mmlu", {"extra_params": {"x": 1}}, "extra_params has no key 'x'"),
    ("mmlu", {"extra_params": 3}, "extra_params must be an object"),
    ("mmlu", {"seed": -1}, "seed must be an integer"),
    ("humaneval", {"timeout": math.nan}, "timeout must be a finite number"),
    ("humaneval", {"timeout": math.inf}, "timeout must be a finite number"),
    ("humaneval", {"timeout": 0}, "timeout must be a number > 0"),
    ("humaneval", {"sandbox": "vm"}, "sandbox must be one of local, docker"),
    ("gsm8k", {"verify_timeout": -math.inf}, "finite"),
    ("longbench_v2", {"tokenizer": "sentencepiece"}, "tokenizer must be a string matching"),
    ("longbench_v2", {"prompt_mode": "rag"}, "prompt_mode must be one of 0shot, cot, no_context"),
    ("tau_bench", {"extra_params": {"max_steps": 0}}, "extra_params.max_steps must be a positive integer"),
    ("tau_bench", {"extra_params": {"generation_config": []}}, "generation_config must be an object"),
    ("tau_bench", {"system_prompt": "hi"}, "system_prompt has no meaning here"),
    ("bfcl_v4", {"prompt_template": "{question}"}, "prompt_template has no meaning here"),
    ("bfcl_v4", {"extra_params": {"is_fc_model": "yes"}}, "is_fc_model must be true or false"),
    ("swe_bench_verified_mini", {"extra_params": {"mode": "chat"}}, "mode must be one of oracle, agentic"),
    ("swe_bench_verified_mini", {"extra_params": {"instance_ids": 5}}, "instance_ids must be a list"),
    ("mmlu", {"prompt_template": "{question} {answer}"}, "unknown placeholder {answer}"),
    ("mmlu", {"prompt_template": "{} {question}"}, "unknown placeholder {}"),
    ("mmlu", {"prompt_template": "{question"}, "not a valid template"),
    ("gpqa_diamond", {"prompt_template": "{subject}: {question}"}, "unknown placeholder {subject}"),
    ("gsm8k", {"prompt_template": "{query}"}, "it may use {question}, {fewshot}"),
])
def test_each_mistake_is_one_usage_sentence(name, args, words):
    with pytest.raises(UsageError) as err:
        registry.get(name).resolve_args(args)
    message = str(err.value)
    assert words in message and message.startswith("--dataset-args"), message
    assert "\n" not in message


def test_good_values_pass_unchanged():
    mmlu = registry.get("mmlu")
    got = mmlu.resolve_args({"subset_list": "anatomy", "few_shot_num": 0, "repeats": 3,
                             "prompt_template": "{subject}|{examples}|{question}|{letters}",
                             "system_prompt": "Be brief.", "dataset_id": "cais/mmlu"})
    assert got["subset_list"] == ["anatomy"] and got["repeats"] == 3 and got["dataset_id"] == "cais/mmlu"
    swe = registry.get("swe_bench_verified_mini")
    repos = {"a/b": "/somewhere"}
    assert swe.resolve_args({"extra_params": {"repos": repos, "timeout": 10}})["extra_params"]["repos"] == repos
    assert swe.resolve_args({"extra_params": {"instance_ids": "a__b-1"}})["extra_params"]["instance_ids"] == ["a__b-1"]
    assert registry.get("humaneval").resolve_args({"n": 4})["repeats"] == 4


def test_validator_on_a_made_up_declaration():
    info = BenchmarkInfo(name="toy", entry="x:Y", title="Toy", description="d", subsets=("a", "b"),
                         args=(Arg("k", "float", 1.0, "k", min=0, max=2),
                               Arg("obj", "object", {"x": 1}, "o", fields=(Arg("x", "int", 1, "x"),))))
    assert resolve_args(info, {"obj": {"x": 5}})["obj"] == {"x": 5}
    assert resolve_args(info, None)["k"] == 1.0
    for bad in ({"k": 3}, {"k": "1"}, {"obj": {"x": "1"}}, {"prompt_template": "x"}, {"system_prompt": "s"}):
        with pytest.raises(UsageError):
            resolve_args(info, bad)
    with pytest.raises(UsageError, match="must be an object"):
        resolve_args(info, [1])
    check_template("{{literal}} {q.attr} {q[0]}", ("q",), "w")


def test_system_prompt_and_prompt_template_reach_the_prompt(datasets_dir):
    mmlu = registry.get("mmlu")
    args = mmlu.resolve_args({"subset_list": ["anatomy"], "few_shot_num": 1, "system_prompt": "Be brief.",
                              "prompt_template": "[{subject}] {examples}Q: {question}({letters})"})
    first = mmlu.load(datasets_dir, args)[0]
    assert first.messages[0] == {"role": "system", "content": "Be brief."}
    text = first.messages[1]["content"]
    assert text.startswith("[anatomy] ") and "ANSWER: " in text and text.endswith("(A, B, C, D)")
    gpqa = registry.get("gpqa_diamond")
    args = gpqa.resolve_args({"system_prompt": "S", "seed": 1})
    sample = gpqa.load(datasets_dir, args)[0]
    assert [m["role"] for m in sample.messages] == ["system", "user"]
    plain = registry.get("ceval")
    sample = plain.load(datasets_dir, plain.resolve_args({"subset_list": ["logic"]}))[0]
    assert [m["role"] for m in sample.messages] == ["user"]


def test_types_module_imports_nothing_of_evalpack():
    tree = ast.parse((SRC / "types.py").read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("evalpack")]


def test_old_import_paths_still_work():
    from evalpack import types
    from evalpack.benchmarks.base import DataFile, Result, Sample, Score, SolveContext  # noqa: F401
    from evalpack.benchmarks.multiple_choice import PROMPT_EN, format_question, score_choice  # noqa: F401
    from evalpack.client import ChatReply

    assert ChatReply is types.ChatReply and Sample is types.Sample


# --- through the CLI: exit 2, one line, nothing sent -------------------------------------------

@pytest.mark.parametrize("dataset_args,words", [
    ('{"mmlu": {"few_shot_num": NaN}}', "few_shot_num must be an integer"),
    ('{"mmlu": {"repeats": Infinity}}', "repeats must be an integer"),
    ('{"mmlu": {"subset_list": ["anatomy"]}, "ceval": {"few_shot_num": 0}}', "'ceval', which --datasets does not select"),
    ('{"mmlu": {"prompt_template": "{question} {gold}"}}', "unknown placeholder {gold}"),
])
def test_cli_rejects_before_any_request(mock_server, datasets_dir, tmp_path, dataset_args, words):
    server = mock_server()
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path), "--quiet",
                        "--dataset-args", dataset_args)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert server.stats()["chat_requests"] == 0
    assert not list(tmp_path.iterdir())  # no run directory either


def test_cli_dataset_id_is_accepted_and_said_to_be_ignored(mock_server, datasets_dir, tmp_path):
    server = mock_server()
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(tmp_path), "--quiet", "--limit", "1",
                        "--dataset-args", json.dumps({"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0,
                                                               "dataset_id": "cais/mmlu"}}))
    assert proc.returncode == 0, proc.stderr
    assert "dataset_id 'cais/mmlu' is ignored" in proc.stderr
