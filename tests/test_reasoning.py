"""The one reasoning stripper, and that every benchmark's extraction goes through it: a decoy
inside the thinking is never scored, and thinking that never closed means no answer."""

from __future__ import annotations

import pytest

from evalpack.benchmarks import registry
from evalpack.benchmarks.ifeval import graded_text
from evalpack.benchmarks.swe_bench.patch_extract import extract_diff
from evalpack.errors import UsageError
from evalpack.scoring.choice import extract_choice
from evalpack.scoring.math_equiv import extract_answer
from evalpack.scoring.reasoning import answer_text
from evalpack.types import Sample


@pytest.mark.parametrize("reply,answer", [
    ("plain ANSWER: B", "plain ANSWER: B"),
    ("<think>ANSWER: A</think>ANSWER: B", "ANSWER: B"),
    ("<THINK>x</Think> B", " B"),
    ("only the end tag</think>\nB", "\nB"),  # templates that put <think> in the prompt
    ("<think>a</think><think>b</think>C", "C"),
    ("<think>ANSWER: A, still thinking", None),
    ("<think>a</think> then <think>again, cut off", None),
    ("", ""),
    (None, None),
])
def test_answer_text(reply, answer):
    assert answer_text(reply) == answer


def test_custom_tags():
    assert answer_text("<reasoning>A</reasoning>B", ("<reasoning>", "</reasoning>")) == "B"
    assert answer_text("<reasoning>A", ("<reasoning>", "</reasoning>")) is None
    assert answer_text("<think>A</think>B", ("<reasoning>", "</reasoning>")) == "<think>A</think>B"


def test_every_extractor_ignores_decoys_and_unclosed_thinking():
    assert extract_choice("<think>ANSWER: A</think>\nANSWER: C") == "C"
    assert extract_choice("<think>so ANSWER: A") is None
    assert extract_answer("<think>\\boxed{7}</think> \\boxed{3}") == ("3", "boxed")
    assert extract_answer("<think>\\boxed{7} hmm") == (None, None)
    diff = "```diff\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n```"
    assert extract_diff(f"<think>{diff}</think>no patch") == ""
    assert extract_diff(f"<think>{diff}") == ""
    assert extract_diff(f"<think>x</think>{diff}").startswith("--- a/x.py")
    assert graded_text("<think>hi</think>\n  Answer.") == "Answer."
    assert graded_text("<think>never closed") == ""


def test_reasoning_tags_is_a_dataset_arg_every_scorer_honours():
    mmlu = registry.get("mmlu")
    args = mmlu.resolve_args({"reasoning_tags": ["<r>", "</r>"]})
    sample = Sample("s", "anatomy", target="B", metadata={"options": ["w", "x", "y", "z"]})
    assert mmlu.score(sample, {"content": "<r>ANSWER: A</r>ANSWER: B"}, args).value == 1.0
    assert mmlu.score(sample, {"content": "<r>ANSWER: B"}, args).unparsed
    for bad in (["<r>"], ["<r>", " "], "x", [1, 2]):
        with pytest.raises(UsageError, match="reasoning_tags"):
            mmlu.resolve_args({"reasoning_tags": bad})
