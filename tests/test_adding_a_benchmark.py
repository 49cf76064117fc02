"""docs/adding_a_benchmark.md's worked example, run as written: its registry block and its module
are taken from the page, registered, loaded from a small dataset written here, and scored."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from evalpack.benchmarks import registry
from evalpack.benchmarks.declaration import Arg, BenchmarkInfo
from evalpack.errors import UsageError

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding_a_benchmark.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.fixture
def toy(monkeypatch):
    entry_block, module_block = _blocks()
    info = eval(entry_block, {"BenchmarkInfo": BenchmarkInfo, "Arg": Arg})  # noqa: S307 - our own doc
    monkeypatch.setitem(registry.BENCHMARKS, info.name, info)
    module = types.ModuleType("evalpack.benchmarks.toy_mc")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(module_block, str(DOC), "exec"), module.__dict__)  # noqa: S102
    return info


def test_the_documented_line_counts_are_true():
    entry_block, module_block = _blocks()
    text = DOC.read_text(encoding="utf-8")
    assert "6 lines) and the\nmodule" in text and len(entry_block.strip().splitlines()) == 6
    assert f"{len(module_block.strip().splitlines())} lines" in text


def test_the_worked_example_loads_prompts_and_scores(toy, tmp_path):
    rows = [{"id": "q1", "topic": "physics", "question": "Which is a vector?",
             "choices": ["mass", "speed", "force", "time"], "answer": 2},
            {"id": "q2", "topic": "history", "question": "First?", "choices": ["a", "b", "c", "d"], "answer": 0},
            {"id": "q3", "topic": "physics", "question": "No", "choices": ["a", "b", "c", "d"], "answer": 1}]
    (tmp_path / "toy_mc").mkdir()
    (tmp_path / "toy_mc" / "test.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    bench = registry.get("toy_mc")
    assert bench.title == "Toy-MC" and bench.subsets == ("physics", "history")
    args = bench.resolve_args({"min_length": 3, "system_prompt": "Be brief."})
    samples = bench.load(tmp_path, args)
    assert [s.id for s in samples] == ["q1", "q2"]
    assert samples[0].messages[0] == {"role": "system", "content": "Be brief."}
    assert samples[0].messages[1]["content"] == (
        "Answer with the letter of the right option (A, B, C, D).\n\n"
        "Which is a vector?\nA. mass\nB. speed\nC. force\nD. time\n")
    scores = [bench.score(samples[0], {"content": "<think>A?</think>The answer is C."}, args),
              bench.score(samples[1], {"content": "B"}, args)]
    assert [s.value for s in scores] == [1.0, 0.0]
    from evalpack.types import Result

    report = bench.aggregate([Result(s.id, s.subset, 0, sc.value, metadata=s.metadata)
                              for s, sc in zip(samples, scores)], args)
    assert report["score"] == 0.5 and {g["name"] for g in report["groups"]["topic"]} == {"physics", "history"}
    with pytest.raises(UsageError, match="min_length must be an integer"):
        bench.resolve_args({"min_length": "3"})
    with pytest.raises(UsageError, match="unknown placeholder"):
        bench.resolve_args({"prompt_template": "{subject} {question}"})
