"""The letter extractor on the answer styles models really produce."""

import pytest

from evalpack.scoring.choice import extract_choice


@pytest.mark.parametrize("reply, letter", [
    ("ANSWER: C", "C"),
    ("answer: c", "C"),  # a lone lower-case letter after "answer:" is the option
    ("Answer: a cat would not fit", None),  # ... but not when a word follows
    ("the answer is (C)", "C"),
    ("The correct option is C.", "C"),
    ("Let's see. Option A is too small and B ignores friction. Therefore the answer is D.", "D"),
    ("First, A seems plausible... but after checking, ANSWER: B", "B"),
    ("**ANSWER: B**", "B"),
    ("Final Answer: $\\boxed{C}$", "C"),
    ("答案：C", "C"),
    ("答案是 C", "C"),
    ("正确选项为C", "C"),
    ("经过分析，答案应该选B。", "B"),
    ("C", "C"),
    ("(B)", "B"),
    ("D. Paris", "D"),
    ("A. Sydney", "A"),
    ("<think>maybe A, maybe B</think>ANSWER: D", "D"),
    ("The answer is a bit unclear to me.", None),
    ("I cannot answer this question.", None),
    ("", None),
    (None, None),
    ("Both B and C look right.", None),
    ("Since A and B fail, \\boxed{C}", "C"),
    ("$\\boxed{\\text{(D)}}$", "D"),
    ("**Answer:** C", "C"),
    ("Option C is correct.", "C"),
])
def test_extract_choice(reply, letter):
    assert extract_choice(reply) == letter


def test_reply_that_repeats_an_option_text():
    assert extract_choice("Paris.", options=["Rome", "Paris", "Oslo", "Bern"]) == "B"


def test_more_letters():
    assert extract_choice("ANSWER: F", letters="ABCDEFGHIJ") == "F"
    assert extract_choice("ANSWER: F") is None
