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

from evalpack.benchmarks.multiple_choice import LETTERS, MultipleChoiceBenchmark, Question
from evalpack.errors import DataMissingError
from evalpack.types import DEFAULT_SEED

MEMBER = "dataset/gpqa_diamond.csv"
# Published in the idavidrein/gpqa README; it only keeps the text out of web crawls.
PASSWORD = b"deserted-untie-orchid"

PROMPT_EN = (
    "Answer this multiple choice question. You may reason step by step first; the last line "
    "of your reply must be of the form 'ANSWER: $LETTER' (without quotes), where LETTER is one "
    "of {letters}.\n\n{question}"
)


class GPQADiamond(MultipleChoiceBenchmark):
    name = "gpqa_diamond"  # metadata and args: registry.py
    prompt = PROMPT_EN
    breakdown_fields = {"subdomain": "subdomain"}

    def questions(self, root: Path, args: dict) -> list[Question]:
        seed = DEFAULT_SEED if args.get("seed") is None else args["seed"]
        wanted = set(self.selected_subsets(args))
        out = []
        for row in read_rows(root):
            domain = row["High-level domain"].strip()
            if domain not in wanted:
                continue
            record_id = row["Record ID"].strip()
            original = [row[k].strip() for k in ("Correct Answer", "Incorrect Answer 1",
                                                 "Incorrect Answer 2", "Incorrect Answer 3")]
            perm = permutation(seed, record_id)
            out.append(Question(record_id, domain, row["Question"], [original[i] for i in perm],
                                LETTERS[perm.index(0)],
                                {"subdomain": row["Subdomain"].strip(), "seed": seed, "permutation": perm}))
        return out


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
