"""GPQA-Diamond (Rein et al., 2023): 198 graduate-level science questions, four options.

Data: `gpqa_diamond.zip` as upstream ships it (password-protected, member
`dataset/gpqa_diamond.csv`, read in memory and never extracted), or the official
`dataset.zip`, or a plain `gpqa_diamond.csv`. The CSV lists the correct answer
first, so the options are shuffled per question: the permutation comes from a
generator seeded with (`seed`, Record ID), hence it is the same in every run with
the same seed, independent of `--limit` and order, and stored with the sample:
`options[i] = [correct, incorrect 1, incorrect 2, incorrect 3][permutation[i]]`.
Prompt: 0-shot; the model may reason first (its length is bounded only by
`max_tokens` of the generation config) and ends with "ANSWER: X".
Score: the extracted letter equals the shuffled position of the correct answer.
Aggregates: overall, per domain (Physics, Chemistry, Biology) and per subdomain.
"""

from __future__ import annotations

import csv
import io
import random
import zipfile
from pathlib import Path

from evalpack.benchmarks.base import Benchmark, Result, Sample, Score
from evalpack.benchmarks.multiple_choice import format_question, score_choice
from evalpack.errors import DataMissingError
from evalpack.metrics import accuracy_report

LETTERS = "ABCD"
DOMAINS = ("Biology", "Chemistry", "Physics")
MEMBER = "dataset/gpqa_diamond.csv"
# Published in the idavidrein/gpqa README; it only keeps the text out of web crawls.
PASSWORD = b"deserted-untie-orchid"
DEFAULT_SEED = 42  # the CLI's default --seed, for callers that give none

PROMPT_EN = (
    "Answer this multiple choice question. You may reason step by step first; the last line "
    "of your reply must be of the form 'ANSWER: $LETTER' (without quotes), where LETTER is one "
    "of {letters}.\n\n{question}"
)


class GPQADiamond(Benchmark):
    name = "gpqa_diamond"
    title = "GPQA-Diamond"
    description = "198 graduate-level physics, chemistry and biology questions (Rein et al.), 0-shot"
    split = "train"  # upstream's only split
    subsets = DOMAINS
    data_dirname = "gpqa"
    default_args = {"subset_list": None}

    def load(self, data_dir: Path, args: dict) -> list[Sample]:
        rows = read_rows(self.root(data_dir, args))
        seed = DEFAULT_SEED if args.get("seed") is None else args["seed"]
        template = args.get("prompt_template") or PROMPT_EN
        wanted = set(self.selected_subsets(args))
        samples = []
        for row in rows:
            domain = row["High-level domain"].strip()
            if domain not in wanted:
                continue
            record_id = row["Record ID"].strip()
            original = [row[k].strip() for k in ("Correct Answer", "Incorrect Answer 1",
                                                 "Incorrect Answer 2", "Incorrect Answer 3")]
            perm = permutation(seed, record_id)
            options = [original[i] for i in perm]
            content = template.format(question=format_question(row["Question"], options, LETTERS),
                                      letters=", ".join(LETTERS))
            samples.append(Sample(
                id=record_id, subset=domain, target=LETTERS[perm.index(0)],
                messages=[{"role": "user", "content": content}],
                metadata={"subdomain": row["Subdomain"].strip(), "seed": seed,
                          "permutation": perm, "options": options}))
        return samples

    def score(self, sample: Sample, output: dict, args: dict) -> Score:
        return score_choice(sample, output, LETTERS)

    def aggregate(self, results: list[Result], args: dict) -> dict:
        return accuracy_report(results, metric=self.metric,
                               groups={"subdomain": lambda r: r.metadata.get("subdomain")})


def permutation(seed: int | str, record_id: str) -> list[int]:
    """The option order of one question: a pure function of (seed, record id).

    random.Random seeded with a str hashes it with SHA-512, which is stable across
    Python versions and platforms (unlike hash())."""
    return random.Random(f"gpqa_diamond:{seed}:{record_id}").sample(range(4), 4)


def read_rows(root: Path) -> list[dict]:
    """The CSV rows, from the first of the upstream containers that exists."""
    for name in ("gpqa_diamond.zip", "dataset.zip"):
        path = root / name
        if path.is_file():
            try:
                with zipfile.ZipFile(path) as zf:
                    raw = zf.read(MEMBER, pwd=PASSWORD)
            except KeyError:
                raise DataMissingError(f"gpqa_diamond: {path} has no member {MEMBER}") from None
            except (RuntimeError, zipfile.BadZipFile) as e:
                raise DataMissingError(f"gpqa_diamond: cannot read {path} ({e}); restore the "
                                       f"upstream zip") from None
            return _parse(raw, path)
    for path in (root / "gpqa_diamond.csv", root / MEMBER):
        if path.is_file():
            return _parse(path.read_bytes(), path)
    raise DataMissingError(f"gpqa_diamond: no data under {root} (looked for gpqa_diamond.zip, "
                           f"dataset.zip with {MEMBER}, or gpqa_diamond.csv)")


def _parse(raw: bytes, source: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    needed = {"Record ID", "Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2",
              "Incorrect Answer 3", "High-level domain", "Subdomain"}
    missing = needed - set(rows[0] if rows else ())
    if missing:
        raise DataMissingError(f"gpqa_diamond: {source} lacks columns {', '.join(sorted(missing))}; "
                               f"it is not the upstream GPQA CSV")
    return rows
