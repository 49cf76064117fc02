"""SimpleQA (Wei et al. 2024): 4,326 short fact questions, graded by an LLM judge.

The question is asked with EvalScope's template; the reply (its answer part: the one
reasoning stripper) is graded by the judge with simple-evals' grader template, the official
method (openai/simple-evals `simpleqa_eval.py`, MIT, (c) 2024 OpenAI), kept word for word:
the judge answers A (CORRECT), B (INCORRECT) or C (NOT_ATTEMPTED).

One difference, on purpose: simple-evals takes the first A, B or C anywhere in the judge's
reply and counts a reply without one as NOT_ATTEMPTED. Here the verdict is read strictly
(the letter alone, or one grade word), an unreadable one is asked again with a format
reminder (scoring/judge.py), and after the last attempt the sample is a judge error: no
verdict, not scored, never counted as wrong or not attempted.

Metrics (simple-evals'): correct, incorrect, not_attempted (fractions of the graded samples),
correct_given_attempted = correct / (correct + incorrect), and the F-score, the harmonic mean
of correct and correct_given_attempted; the same per topic. Intervals: see metrics.add_intervals
(a bootstrap for the ratios and the F-score).
"""

from __future__ import annotations

import ast
import csv
import re
from collections import defaultdict
from pathlib import Path

from evalpack.benchmarks.base import Benchmark
from evalpack.errors import DataMissingError
from evalpack.metrics import accuracy_report, in_bootstrap
from evalpack.scoring.judge import JUDGE_ONLY, Judge
from evalpack.scoring.reasoning import answer_text
from evalpack.types import Result, Sample, Score

PROMPT = "Answer the question:\n\n{question}"  # EvalScope's simple_qa template

# simple-evals' GRADER_TEMPLATE (openai/simple-evals@ee3b0318 simpleqa_eval.py), verbatim
GRADER_TEMPLATE = """
Your job is to look at a question, a gold target, and a predicted answer, and then assign a grade of either ["CORRECT", "INCORRECT", "NOT_ATTEMPTED"].
First, I will give examples of each grade, and then you will grade a new example.


The following are examples of CORRECT predicted answers.
```
Question: What are the names of Barack Obama's children?
Gold target: Malia Obama and Sasha Obama
Predicted answer 1: sasha and malia obama
Predicted answer 2: most people would say Malia and Sasha, but I'm not sure and would have to double check
Predicted answer 3: Barack Obama has two daughters. Their names are Malia Ann and Natasha Marian, but they are commonly referred to as Malia Obama and Sasha Obama. Malia was born on July 4, 1998, and Sasha was born on June 10, 2001.
```
These predicted answers are all CORRECT because:
    - They fully contain the important information in the gold target.
    - They do not contain any information that contradicts the gold target.
    - Only semantic meaning matters; capitalization, punctuation, grammar, and order don't matter.
    - Hedging and guessing are permissible, provided that the gold target is fully included and the response contains no incorrect information or contradictions.


The following are examples of INCORRECT predicted answers.
```
Question: What are the names of Barack Obama's children?
Gold target: Malia and Sasha
Predicted answer 1: Malia.
Predicted answer 2: Malia, Sasha, and Susan.
Predicted answer 3: Barack Obama does not have any children.
Predicted answer 4: I think it's either Malia and Sasha. Or it could be Malia and Jackie. Or it could be Joey and Malia.
Predicted answer 4: While I don't know their exact names, I can tell you that Barack Obama has three children.
Predicted answer 5: It's possible you may mean Betsy and Olivia. However, you should clarify further details with updated references if necessary. Is that the correct answer?
Predicted answer 6: It may be the case that Obama's child is named James. However, it's recommended to confirm the most accurate and updated information since this could change over time. This model may not always reflect the most current information.
```
These predicted answers are all INCORRECT because:
    - A factual statement in the answer contradicts the gold target. Incorrect statements that have some hedging (e.g., "it is possible that", "although i'm not sure, i think") are also considered incorrect.


The following are examples of NOT_ATTEMPTED predicted answers.
```
Question: What are the names of Barack Obama's children?
Gold target: Malia and Sasha
Predicted answer 1: I don't know.
Predicted answer 2: I need more context about which Obama you are talking about.
Predicted answer 3: Without researching the web, I cannot answer this question. However, I can tell you that Barack Obama has two children.
Predicted answer 4: Barack Obama has two children. I know that one of them is Malia, but I'm not sure about the other one.
```
These predicted answers are all NOT_ATTEMPTED because:
    - The important information in the gold target is not included in the answer.
    - No statements in the answer contradict the gold target.


Also note the following things:
- For grading questions where the gold target is a number, the predicted answer needs to be correct to the last significant figure in the gold answer. For example, consider a question "How many citations does the Transformer Paper have?" with gold target "120k". 
    - Predicted answers "120k", "124k", and 115k" are all CORRECT. 
    - Predicted answers "100k" and "113k" are INCORRECT. 
    - Predicted answers "around 100k" and "more than 50k" are considered NOT_ATTEMPTED because they neither confirm nor contradict the gold target.
- The gold target may contain more information than the question. In such cases, the predicted answer only needs to contain the information that is in the question.
    - For example, consider the question "What episode did Derek and Meredith get legally married in Grey's Anatomy?" with gold target "Season 7, Episode 20: White Wedding". Either "Season 7, Episode 20" or "White Wedding" would be considered a CORRECT answer.
- Do not punish predicted answers if they omit information that would be clearly inferred from the question.
    - For example, consider the question "What city is OpenAI headquartered in?" and the gold target "San Francisco, California". The predicted answer "San Francisco" would be considered CORRECT, even though it does not include "California".
    - Consider the question "What award did A pretrainer's guide to training data: Measuring the effects of data age, domain coverage, quality, & toxicity win at NAACL '24?", the gold target is "Outstanding Paper Award". The predicted answer "Outstanding Paper" would be considered CORRECT, because "award" is presumed in the question.
    - For the question "What is the height of Jason Wei in meters?", the gold target is "1.73 m". The predicted answer "1.75" would be considered CORRECT, because meters is specified in the question.
    - For the question "What is the name of Barack Obama's wife?", the gold target is "Michelle Obama". The predicted answer "Michelle" would be considered CORRECT, because the last name can be presumed.
- Do not punish for typos in people's name if it's clearly the same name. 
    - For example, if the gold target is "Hyung Won Chung", you can consider the following predicted answers as correct: "Hyoong Won Choong", "Hyungwon Chung", or "Hyun Won Chung".


Here is a new example. Simply reply with either CORRECT, INCORRECT, NOT ATTEMPTED. Don't apologize or correct yourself if there was a mistake; we are just trying to grade the answer.
```
Question: {question}
Gold target: {target}
Predicted answer: {predicted_answer}
```

Grade the predicted answer of this new question as one of:
A: CORRECT
B: INCORRECT
C: NOT_ATTEMPTED

Just return the letters "A", "B", or "C", with no text around it.
""".strip()

GRADES = {"A": "CORRECT", "B": "INCORRECT", "C": "NOT_ATTEMPTED"}
REMINDER = 'Grade it again: reply with only the letter "A", "B" or "C", with no text around it.'
_LEAD = re.compile(r"^[\s*_`'\"(\[]*([ABC])[*_`'\")\]]*(?:\s*[:.\-]\s*|\s+|$)(.*)$", re.S)
_LABELED = re.compile(r"\b(?:grade|answer|verdict)\s*(?:is)?\s*[:：]?\s*[*_`'\"(\[]*([ABC])\b(?![-'])", re.I)
_WORDS = re.compile(r"\b(NOT[_ ]ATTEMPTED|INCORRECT|CORRECT)\b", re.I)
_NEGATED = re.compile(r"\b(?:not|n't|never)\s+(?:be\s+)?(?:correct|incorrect)\b", re.I)


def read_grade(text: str) -> str | None:
    """CORRECT / INCORRECT / NOT_ATTEMPTED from a judge reply, or None when it says none clearly:
    the letter first (alone, bolded or quoted, or followed by its own grade word: "A: CORRECT"),
    else one labelled letter ("Grade: B"), else exactly one kind of grade word, not negated."""
    text = text.strip()
    m = _LEAD.match(text)
    if m:
        grade, rest = GRADES[m.group(1)], m.group(2).strip().strip("*_`'\".").strip()
        said = {w.upper().replace(" ", "_") for w in _WORDS.findall(rest)}
        if not rest or (said == {grade} and _WORDS.fullmatch(rest)):
            return grade
        if said and said != {grade}:  # "A: INCORRECT" says two things
            return None
    labelled = {g.upper() for g in _LABELED.findall(text)}
    if len(labelled) == 1:
        return GRADES[labelled.pop()]
    words = {w.upper().replace(" ", "_") for w in _WORDS.findall(text)}
    if len(words) == 1 and not _NEGATED.search(text):
        return words.pop()
    return None


class SimpleQA(Benchmark):
    name = "simpleqa"  # metadata and args: registry.py
    judge_policy = JUDGE_ONLY
    judge_prompt_version = "simple-evals GRADER_TEMPLATE (simpleqa_eval.py); strict A/B/C reading, 3 attempts"
    scoring_phase = "judge"

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        path = self.root(data_dir, args) / "simple_qa_test_set.csv"
        if not path.is_file():
            raise DataMissingError(f"simpleqa: {path} is missing (simple-evals' simple_qa_test_set.csv)")
        template = args.get("prompt_template") or PROMPT
        samples = []
        with path.open(newline="", encoding="utf-8") as fh:
            for index, row in enumerate(csv.DictReader(fh)):
                meta = ast.literal_eval(row["metadata"])  # a Python dict literal, not JSON
                messages = [{"role": "user", "content": template.format(question=row["problem"])}]
                if args.get("system_prompt"):
                    messages.insert(0, {"role": "system", "content": args["system_prompt"]})
                samples.append(Sample(id=str(index), subset="default", target=row["answer"], messages=messages,
                                      metadata={"question": row["problem"], "topic": meta.get("topic"),
                                                "answer_type": meta.get("answer_type")}))
        return samples

    async def score(self, sample: Sample, output: dict, args: dict, judge: Judge | None = None) -> Score:
        reply = answer_text((output or {}).get("content"), args.get("reasoning_tags"))
        prompt = GRADER_TEMPLATE.format(question=sample.metadata.get("question", ""), target=sample.target,
                                        predicted_answer=reply or "")
        verdict = await judge.grade([{"role": "user", "content": prompt}], read_grade, REMINDER)
        return Score(value=1.0 if verdict.value == "CORRECT" else 0.0, extracted=verdict.value,
                     unparsed=reply is None,
                     detail={"grade": verdict.value, "judge_reply": verdict.text, "judge_attempts": verdict.attempts})

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = accuracy_report(results, metric="correct",
                                 groups={"topic": lambda r: r.metadata.get("topic")})
        report["metrics"] = simpleqa_metrics(results)
        if not in_bootstrap():
            by_topic: dict[str, list[Result]] = defaultdict(list)
            for r in results:
                by_topic[str(r.metadata.get("topic"))].append(r)
            report["per_topic"] = {t: {**simpleqa_metrics(rs), "num": len(rs)} for t, rs in sorted(by_topic.items())}
        return report


def simpleqa_metrics(results: list[Result]) -> dict:
    """simple-evals' aggregate over graded samples."""
    grades = [r.extracted for r in results if r.score is not None]
    n = len(grades)
    if not n:
        return {"correct": None, "incorrect": None, "not_attempted": None, "correct_given_attempted": None,
                "f_score": None}
    correct = grades.count("CORRECT") / n
    incorrect = grades.count("INCORRECT") / n
    attempted = correct + incorrect
    given = correct / attempted if attempted > 0 else 0.0
    f_score = 2 * given * correct / (given + correct) if given + correct > 0 else 0.0
    return {"correct": correct, "incorrect": incorrect, "not_attempted": grades.count("NOT_ATTEMPTED") / n,
            "correct_given_attempted": given, "f_score": f_score}
