"""How close is the adapter's token estimate to a real tokenizer?

Usage:
  python perf/adapter_token_estimate.py --tokenizer-json PATH/tokenizer.json \
      --dataset-dir ../shared/datasets [--per-source 500]

Compares `evalpack.adapter.tokens.estimate_tokens` with a Hugging Face `tokenizer.json`
(needs `pip install tokenizers`) on real prompts as the adapter sends them: MMLU
questions and BFCL simple_python conversations with the tool-emulation instruction,
rendered with ChatML, plus C-Eval questions (Chinese). Prints, per source, the ratio
of summed counts (estimate / real) and the median per-prompt relative error.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from evalpack.adapter.chat_template import get_template  # noqa: E402
from evalpack.adapter.tokens import estimate_tokens  # noqa: E402
from evalpack.adapter.tool_emulation import flatten_messages  # noqa: E402


def mmlu(root: Path, n: int):
    for path in sorted((root / "mmlu/data/test").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            for row in list(csv.reader(f))[: max(1, n // 57)]:
                yield "\n".join([row[0]] + [f"{l}. {o}" for l, o in zip("ABCD", row[1:5])])


def bfcl(root: Path, n: int):
    template = get_template("chatml")
    with open(root / "bfcl_v4/BFCL_v4_simple_python.json", encoding="utf-8") as f:
        for line in list(f)[:n]:
            entry = json.loads(line)
            tools = [{"type": "function", "function": fn} for fn in entry["function"]]
            yield template.render(flatten_messages(entry["question"][0], tools))


def ceval(root: Path, n: int):
    for path in sorted((root / "ceval/val").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            for row in list(csv.DictReader(f))[: max(1, n // 52)]:
                yield "\n".join([row["question"]] + [row[k] for k in "ABCD"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer-json", required=True)
    parser.add_argument("--dataset-dir", required=True)
    parser.add_argument("--per-source", type=int, default=500)
    args = parser.parse_args()
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(args.tokenizer_json)
    root = Path(args.dataset_dir)
    print(f"{'source':16} {'prompts':>7} {'real':>9} {'estimate':>9} {'ratio':>6} {'median |err|':>12}")
    for name, source in (("mmlu", mmlu), ("bfcl_simple_py", bfcl), ("ceval (zh)", ceval)):
        texts = list(source(root, args.per_source))
        real = [len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts]
        estimate = [estimate_tokens(t) for t in texts]
        errors = [abs(e - r) / r for e, r in zip(estimate, real) if r]
        print(f"{name:16} {len(texts):7d} {sum(real):9d} {sum(estimate):9d} "
              f"{sum(estimate) / sum(real):6.2f} {statistics.median(errors):11.0%}")


if __name__ == "__main__":
    main()
