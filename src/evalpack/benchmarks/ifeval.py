"""IFEval (Zhou et al., 2023): 541 prompts carrying 834 verifiable instructions of 25 types.

Data: `ifeval/input_data.jsonl` as google-research `instruction_following_eval/data/` ships
it (key, prompt, instruction_id_list, kwargs), and NLTK's English `punkt_tab` model under
`ifeval/nltk_data/`, which the checker counts sentences and word tokens with; it is read
from there, never downloaded. Needs the `[ifeval]` extra (nltk, langdetect).
Prompt: the upstream prompt alone, one user message, 0-shot (as EvalScope and upstream).
Score: `evalpack.scoring.ifeval` rules each instruction followed or not, strictly and
loosely, on the reply with any reasoning removed. A sample's value is prompt-level strict
(all its instructions followed). Aggregates: prompt- and instruction-level accuracy, strict
and loose, and both per instruction type and per instruction group (the part before ':').
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.errors import DataMissingError
from evalpack.metrics import _table, accuracy_report, in_bootstrap
from evalpack.scoring import ifeval as rules

DATA_FILE = "input_data.jsonl"
NLTK_DIR = "nltk_data"
METRICS = ("prompt_level_strict", "inst_level_strict", "prompt_level_loose", "inst_level_loose")


class IFEval(Benchmark):
    name = "ifeval"
    title = "IFEval"
    description = "541 prompts with 25 types of verifiable instructions (Zhou et al.), strict and loose"
    metric = "prompt_level_strict"
    split = "train"  # upstream's only split (EvalScope's eval_split)
    subsets = ("default",)
    # nltk_data: NLTK's data dir (default <dataset dir>/ifeval/nltk_data); kept in the run's args
    # so that `evalpack rescore`, which reads no dataset, finds the Punkt model too
    default_args = {"subset_list": None, "nltk_data": None}

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        rules.require_libraries()
        root = self.root(data_dir, args)
        args["nltk_data"] = str(Path(args.get("nltk_data") or root / NLTK_DIR).resolve())
        rules.use_nltk_data(Path(args["nltk_data"]))
        path = root / DATA_FILE
        if not path.is_file():
            raise DataMissingError(f"ifeval: {path} is missing; `evalpack pack ifeval` makes a kit with it")
        samples = []
        with path.open(encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                record = json.loads(line)
                unknown = [i for i in record["instruction_id_list"] if i not in rules.CHECKS]
                if unknown:
                    raise DataMissingError(f"ifeval: {path} key {record['key']} has instruction types "
                                           f"{', '.join(unknown)} that IFEval does not define")
                messages = [{"role": "user", "content": record["prompt"]}]
                if args.get("system_prompt"):
                    messages.insert(0, {"role": "system", "content": args["system_prompt"]})
                samples.append(Sample(
                    id=str(record["key"]), subset="default", messages=messages,
                    target={"instruction_id_list": record["instruction_id_list"], "kwargs": record["kwargs"]}))
        return samples

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        if args.get("nltk_data"):
            rules.use_nltk_data(Path(args["nltk_data"]))
        response = graded_text((output or {}).get("content") or "")
        ids, kwargs = sample.target["instruction_id_list"], sample.target["kwargs"]
        strict, loose = rules.judge(response, ids, kwargs)
        return Score(value=float(all(strict)), extracted=None,
                     detail={"instruction_id_list": ids, "strict": strict, "loose": loose,
                             "prompt_level_loose": all(loose)})

    def aggregate(self, results: list[Result], args: dict) -> dict:
        report = accuracy_report(results, metric=self.metric)
        details = [r.detail for r in results if r.score is not None and r.detail.get("strict") is not None]
        n = sum(len(d["strict"]) for d in details)
        report["metrics"] = {
            "prompt_level_strict": _ratio(sum(all(d["strict"]) for d in details), len(details)),
            "inst_level_strict": _ratio(sum(sum(d["strict"]) for d in details), n),
            "prompt_level_loose": _ratio(sum(all(d["loose"]) for d in details), len(details)),
            "inst_level_loose": _ratio(sum(sum(d["loose"]) for d in details), n)}
        report["num_instructions"] = n
        if in_bootstrap():  # a replicate needs the four numbers only (report.json's intervals)
            return report
        per_type: dict[str, dict[str, list[bool]]] = defaultdict(lambda: {"strict": [], "loose": []})
        for d in details:
            for instruction_id, s, l in zip(d["instruction_id_list"], d["strict"], d["loose"]):
                per_type[instruction_id]["strict"].append(s)
                per_type[instruction_id]["loose"].append(l)
        report["groups"] = {
            "instruction (strict)": _table({k: v["strict"] for k, v in per_type.items()}),
            "instruction (loose)": _table({k: v["loose"] for k, v in per_type.items()}),
            "instruction group (strict)": _table(_by_group(per_type, "strict")),
            "instruction group (loose)": _table(_by_group(per_type, "loose")),
        }
        return report


def graded_text(content: str) -> str:
    """The reply without inline reasoning: what follows the last </think>, from its first
    non-blank character; nothing when a <think> opens the reply and never closes (it was cut
    off while reasoning); a reply without either is graded as it is."""
    head, marker, answer = content.rpartition("</think>")
    if marker:
        return answer.lstrip()
    return "" if content.lstrip().startswith("<think>") else content


def _ratio(count: int, total: int) -> float | None:
    return count / total if total else None


def _by_group(per_type: dict, mode: str) -> dict[str, list[bool]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for instruction_id, verdicts in per_type.items():
        groups[instruction_id.split(":")[0]].extend(verdicts[mode])
    return groups

