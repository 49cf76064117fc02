"""BIG-Bench Hard (Suzgun et al., 2022): 27 tasks, 6,511 examples, 3-shot chain of thought.

Prompt: the task's official `cot-prompts/<task>.txt` (task description and three worked
exemplars ending "So the answer is X."), canary header dropped, then
"Q: <input>\\nA: Let's think step by step." in one user message.

Score: exact match of the text after the last "the answer is" with the target, as the paper
and lm-eval's `bbh_cot_fewshot` score it (case-sensitive, no punctuation folding). Before
comparing, the answer line loses surrounding markup (`**`, backticks, `$`) and its trailing
period, and in the 17 multiple-choice tasks a bare letter ("C", "C.", "C) text") is read as
the option "(C)". Replies without the phrase fall back to "Answer: X", then a `\\boxed{}`,
then a one-line reply; anything else is unparsed. Accuracy per task, the macro average over
tasks (the paper's) and the micro average over examples (lm-eval's group score).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from evalpack.benchmarks.base import Benchmark
from evalpack.errors import DataMissingError
from evalpack.metrics import accuracy_report
from evalpack.scoring.math_equiv import last_boxed
from evalpack.scoring.reasoning import answer_text
from evalpack.types import Result, Sample, Score

MULTIPLE_CHOICE = (
    "date_understanding", "disambiguation_qa", "geometric_shapes", "hyperbaton",
    "logical_deduction_five_objects", "logical_deduction_seven_objects", "logical_deduction_three_objects",
    "movie_recommendation", "penguins_in_a_table", "reasoning_about_colored_objects", "ruin_names",
    "salient_translation_error_detection", "snarks", "temporal_sequences",
    "tracking_shuffled_objects_five_objects", "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
)
FREE_FORM = (
    "boolean_expressions", "causal_judgement", "dyck_languages", "formal_fallacies", "multistep_arithmetic_two",
    "navigate", "object_counting", "sports_understanding", "web_of_lies", "word_sorting",
)
QUESTION = "Q: {question}\nA: Let's think step by step."


class BBH(Benchmark):
    """Metadata and dataset-args (few_shot_num 3 or 0): registry.py."""

    name = "bbh"

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        root = self.root(data_dir, args)
        template = args.get("prompt_template")
        samples = []
        for task in self.selected_subsets(args):
            path = root / "bbh" / f"{task}.json"
            if not path.is_file():
                raise DataMissingError(f"bbh: {path} is missing (BIG-Bench-Hard's bbh/{task}.json); "
                                       f"`evalpack verify bbh` lists what is needed")
            examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
            prompt = read_prompt(root, task, int(args["few_shot_num"]))
            kind = "multiple_choice" if task in MULTIPLE_CHOICE else "free_form"
            for i, ex in enumerate(examples):
                question = QUESTION.format(question=ex["input"])
                content = template.format(fewshot=prompt, question=ex["input"]) if template \
                    else f"{prompt}\n\n{question}"
                messages = [{"role": "user", "content": content}]
                if args.get("system_prompt"):
                    messages.insert(0, {"role": "system", "content": args["system_prompt"]})
                samples.append(Sample(id=f"{task}/{i}", subset=task, target=ex["target"], messages=messages,
                                      metadata={"task_type": kind}))
        return samples

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        answer, rule = extract_answer((output or {}).get("content"),
                                      sample.metadata.get("task_type") == "multiple_choice",
                                      args.get("reasoning_tags"))
        return Score(value=float(answer is not None and answer == sample.target), extracted=answer,
                     unparsed=answer is None, detail={"rule": rule})

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = accuracy_report(results, metric=self.metric,
                                 groups={"task_type": lambda r: r.metadata.get("task_type")})
        # accuracy_report's score is the micro average; the paper reports the macro one too
        report["metrics"]["accuracy_micro"] = report["metrics"][self.metric]
        return report


def read_prompt(root: Path, task: str, shots: int) -> str:
    """The official CoT prompt without its canary line and "-----" separator; 0 shots keeps only
    the task description (its first paragraph)."""
    path = root / "cot-prompts" / f"{task}.txt"
    if not path.is_file():
        raise DataMissingError(f"bbh: {path} is missing (BIG-Bench-Hard's cot-prompts/{task}.txt)")
    text = path.read_text(encoding="utf-8")
    _, sep, body = text.partition("\n-----\n")
    body = (body if sep else text).strip()
    return body if shots else body.split("\n\n", 1)[0]


_CUE = re.compile(r"the answer is\s*:?", re.I)
_ANSWER_LABEL = re.compile(r"answer\s*:", re.I)
_MARKUP = re.compile(r"\*\*|__|`|\$")
_OPTION = re.compile(r"\(([A-Z])\)")
_BARE_LETTER = re.compile(r"([A-Z])(?:[.):]|\s|$)")


def extract_answer(reply: str | None, multiple_choice: bool,
                   reasoning_tags=None) -> tuple[str | None, str | None]:
    """(the normalised answer, the rule that found it) or (None, None)."""
    text = (answer_text(reply, reasoning_tags) or "").strip()
    if not text:
        return None, None
    span, rule = None, None
    for name, cue in (("answer_is", _CUE), ("answer_colon", _ANSWER_LABEL)):
        cues = list(cue.finditer(text))
        if cues:
            span, rule = text[cues[-1].end():].lstrip().split("\n")[0], name
            break
    if span is None:
        boxed = last_boxed(text)
        if boxed:
            span, rule = boxed, "boxed"
        elif text and "\n" not in text:
            span, rule = text, "whole_reply"
    if span is None:
        return None, None
    answer = _MARKUP.sub("", span).strip().strip("\"'").strip()
    answer = re.sub(r"\.+$", "", answer).strip()
    if multiple_choice:
        option = _OPTION.search(answer) or _BARE_LETTER.match(answer)
        if option:
            answer = f"({option.group(1)})"
    return (answer or None), rule
