"""Flags and YAML -> RunConfig (config.py): what each value becomes, and each mistake as one
UsageError sentence naming the key and the fix. `build_config` is called directly; the last
tests run the real CLI to show exit 2, one line, and nothing sent or made. (test_properties.py
throws random values at the same paths; these pin the exact sentences and results.)"""

from __future__ import annotations

import math

import pytest

from conftest import run_evalpack
from evalpack.config import build_config
from evalpack.errors import UsageError

BASE = {"model": "qwen", "api_url": ["http://127.0.0.1:8000/v1"], "datasets": ["mmlu"]}


def config(yaml_text: str | None = None, tmp_path=None, **flags):
    path = None
    if yaml_text is not None:
        path = tmp_path / "run.yaml"
        path.write_text(yaml_text, encoding="utf-8")
    return build_config({**(BASE if yaml_text is None else {}), **flags}, str(path) if path else None)


def test_defaults_and_evalscope_spellings(monkeypatch, tmp_path):
    monkeypatch.setenv("EVALPACK_DATA", str(tmp_path / "kit"))
    monkeypatch.delenv("EVALPACK_API_KEY", raising=False)
    c = config(generation_config='{"max_new_tokens": 64, "do_sample": false, "timeout": 30, "retries": 1}')
    assert c.generation == {"max_tokens": 64, "temperature": 0.0}  # aliases; transport keys are not sent
    assert (c.timeout, c.retries, c.concurrency, c.seed, c.limit) == (30.0, 1, 32, 42, None)
    assert c.dataset_dir == tmp_path / "kit" and str(c.work_dir) == "outputs" and c.api_key is None
    kv = config(generation_config="temperature=0.5,max_tokens=10,stop=END")
    assert kv.generation == {"temperature": 0.5, "max_tokens": 10, "stop": "END"}
    assert config(limit="0.25").limit == 0.25 and config(limit="7").limit == 7
    assert config(stream=True, timeout="5").generation["stream"] is True


def test_flags_override_yaml_and_yaml_takes_native_types(tmp_path):
    c = config("model: from-yaml\napi_url: http://127.0.0.1:9/v1\ndatasets: [mmlu, gsm8k]\nseed: 7\n"
               "eval_batch_size: 4\ndataset_args: {mmlu: {few_shot_num: 0}}\n", tmp_path, seed="11")
    assert (c.model, c.api_urls, c.datasets, c.seed, c.concurrency) == (
        "from-yaml", ["http://127.0.0.1:9/v1"], ["mmlu", "gsm8k"], 11, 4)
    assert c.dataset_args == {"mmlu": {"few_shot_num": 0}}
    assert config("model: 7\napi_url: http://h:1/v1\ndatasets: mmlu\n", tmp_path).model == "7"


def test_the_api_key_is_kept_out_of_what_is_written(monkeypatch):
    monkeypatch.setenv("EVALPACK_API_KEY", "sk-config-test-0001")
    c = config(api_url=["http://user:pw-config-test@127.0.0.1:8000/v1"],
               generation_config='{"extra_body": {"api_key": "sk-nested-config-test"}}')
    assert c.api_key == "sk-config-test-0001"
    shown = str(c.redacted())
    for secret in ("sk-config-test-0001", "pw-config-test", "sk-nested-config-test"):
        assert secret not in shown
    assert config(api_key="EMPTY").api_key is None  # vLLM's placeholder: no header sent


def test_same_settings_same_run_id_and_a_changed_one_another():
    a, b = config(seed="1"), config(seed="1")
    assert a.run_id() == b.run_id() and a.run_id().startswith("qwen-")
    assert config(seed="2").run_id() != a.run_id()
    assert config(generation_config='{"temperature": 1}').run_id() != a.run_id()
    assert config(model="org/Model:7b").run_id().startswith("org_Model_7b-")


@pytest.mark.parametrize("flags,words", [
    ({"model": None}, "no --model given"),
    ({"api_url": None}, "no --api-url given"),
    ({"api_url": ["ftp://x"]}, "is not an http(s) URL"),
    ({"datasets": None}, "no --datasets given"),
    ({"eval_type": "checkpoint"}, "--eval-type 'checkpoint' is not supported"),
    ({"limit": "0"}, "--limit must be greater than 0"),
    ({"limit": "2.5"}, "whole number of samples per subset or a fraction below 1"),
    ({"limit": "nan"}, "--limit must be a finite number"),
    ({"eval_batch_size": "0"}, "--eval-batch-size must be at least 1"),
    ({"eval_batch_size": "99999"}, "--eval-batch-size must be at most 4096"),
    ({"seed": "-1"}, "--seed must be at least 0"),
    ({"seed": "1.5"}, "--seed must be a whole number"),
    ({"timeout": "0"}, "timeout must be greater than 0"),
    ({"timeout": "inf"}, "timeout must be a finite number"),
    ({"generation_config": "{bad json"}, "--generation-config is not valid JSON"),
    ({"generation_config": "[1, 2]"}, "neither JSON nor key=value"),
    ({"generation_config": '{"temprature": 0}'}, "unknown key 'temprature'"),
    ({"generation_config": '{"temperature": "hot"}'}, "temperature must be a number"),
    ({"generation_config": '{"top_p": 2}'}, "top_p must be at most 1"),
    ({"generation_config": '{"max_tokens": 0}'}, "max_tokens must be a whole number from 1"),
    ({"generation_config": '{"n": 4}'}, "n > 1 is not sent to the server"),
    ({"generation_config": '{"stop": [1]}'}, "stop must be a string or a list of strings"),
    ({"generation_config": '{"temperature": NaN}'}, "NaN and Infinity are not JSON"),
    ({"generation_config": '{"retries": 1000}'}, "retries must be at most 100"),
    ({"dataset_args": '{"mmlu": 5}'}, "the value for 'mmlu' must be an object"),
    ({"sandbox": "vm"}, "sandbox must be one of docker, local"),
])
def test_each_flag_mistake_is_one_sentence(flags, words):
    with pytest.raises(UsageError) as err:
        config(**flags)
    message = str(err.value)
    assert words in message and "\n" not in message, message


@pytest.mark.parametrize("text,words", [
    ("model: m\nmodle: typo\n", "unknown key modle; known keys:"),
    ("- just\n- a list\n", "must be a mapping of keys"),
    ("model: [unclosed\n", "is not valid YAML at line"),
    ("model: m\nquiet: maybe\n", "quiet must be true or false"),
    ("model: {a: 1}\n", "model must be text"),
    ("model: m\napi_url: 5\n", "api_url must be text or a list of text"),
    ("sweep: [{model: a}]\nmodel: m\n", "sweep: lists several runs"),
])
def test_each_yaml_mistake_is_one_sentence(tmp_path, text, words):
    with pytest.raises(UsageError) as err:
        rest = "" if text.startswith("-") or "api_url" in text else "api_url: http://127.0.0.1:9/v1\ndatasets: [mmlu]\n"
        config(text + rest, tmp_path)
    assert words in str(err.value), str(err.value)


def test_a_yaml_path_that_is_no_file_or_not_text(tmp_path):
    with pytest.raises(UsageError, match="no such file or preset; presets: "):
        build_config({}, "nosuchpreset")
    with pytest.raises(UsageError, match="no such file"):
        build_config({}, str(tmp_path / "missing.yaml"))
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(UsageError, match="not a text file"):
        build_config({}, str(tmp_path / "bin.yaml"))


def test_a_preset_fills_what_flags_leave_unset():
    c = build_config({"model": "m", "api_url": ["http://127.0.0.1:9/v1"]}, "reasoning")
    assert c.datasets and all(isinstance(d, str) for d in c.datasets) and not math.isnan(c.timeout)


@pytest.mark.parametrize("args,words", [
    (["--limit", "-3"], "--limit must be greater than 0"),
    (["--generation-config", '{"temprature": 0}'], "unknown key 'temprature'"),
    (["--eval-batch-size", "many"], "--eval-batch-size must be a number"),
])
def test_the_cli_exits_2_with_one_line_and_makes_nothing(tmp_path, args, words):
    proc = run_evalpack("eval", "--model", "m", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "mmlu",
                        "--work-dir", str(tmp_path / "out"), *args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and words in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
