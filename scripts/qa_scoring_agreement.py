"""Agreement of evalpack's general_qa scores with EvalScope's way of computing them.

EvalScope scores general_qa with jieba + rouge-chinese for ROUGE and NLTK's `word_tokenize` (which
needs the Punkt model) + `sentence_bleu` for BLEU; this script makes those same calls (re-typed, with
Punkt from IFEval's nltk_data in the shared datasets) and compares all 13 numbers with
evalpack.scoring.text_overlap on TruthfulQA answer pairs (English) and C-Eval option pairs (Chinese).

    python scripts/qa_scoring_agreement.py [--datasets ../shared/datasets]

Needs the qa extra (jieba, nltk, rouge-chinese). Not a test: a measurement (docs/custom_datasets.md).
"""
import argparse, csv, glob, json, sys, time, warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
parser = argparse.ArgumentParser()
parser.add_argument("--datasets", default=str(REPO.parent / "shared" / "datasets"))
DATA = Path(parser.parse_args().datasets)
import nltk
nltk.data.path.insert(0, str(DATA / "ifeval" / "nltk_data"))
import jieba
from nltk import word_tokenize
from nltk.translate.bleu_score import sentence_bleu
from rouge_chinese import Rouge
from evalpack.scoring.text_overlap import overlap

def zh(s): return any('\u4e00' <= c <= '\u9fa5' for c in s)
def evalscope(p, r):
    out = {}
    ps = ' '.join(jieba.cut(p)) if zh(p) else p
    rs = ' '.join(jieba.cut(r)) if zh(r) else r
    try:
        sc = Rouge().get_scores(ps, rs, ignore_empty=True)[0]
        for n, k in (("1","rouge-1"),("2","rouge-2"),("L","rouge-l")):
            for st in "RPF": out[f"Rouge-{n}-{st}"] = sc[k][st.lower()]
    except Exception:
        pass
    pt = list(jieba.cut(p)) if zh(p) else word_tokenize(p)
    rt = [list(jieba.cut(r))] if zh(r) else [word_tokenize(r)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(1,5):
            out[f"bleu-{n}"] = sentence_bleu(rt, pt, weights=tuple(float(i==n-1) for i in range(4)))
    return out

pairs = []
with open(DATA / "truthfulqa" / "TruthfulQA.csv", newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        best = row["Best Answer"]
        for other in (row["Correct Answers"].split(";") + row["Incorrect Answers"].split(";"))[:3]:
            if other.strip(): pairs.append(("en", other.strip(), best))
for path in sorted(glob.glob(str(DATA / "ceval" / "val" / "*.csv"))):
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            opts = [row[x] for x in "ABCD" if row.get(x)]
            gold = row[row["answer"].strip()] if row.get("answer","").strip() in "ABCD" else opts[0]
            for o in opts:
                pairs.append(("zh", o + "。" + row["question"][:30], gold + "。" + row["question"][:30]))
counts = {"en": [0, 0, 0], "zh": [0, 0, 0]}  # pairs, all 13 metrics equal, the 9 ROUGE ones equal
diff_examples = []
t0 = time.perf_counter()
for lang, p, r in pairs:
    a, b = evalscope(p, r), overlap(p, r)
    counts[lang][0] += 1
    same = all(abs(a.get(k, 0.0) - b[k]) <= 1e-12 for k in b)
    rouge_same = all(abs(a.get(k, 0.0) - b[k]) <= 1e-12 for k in b if k.startswith("Rouge"))
    counts[lang][1] += same
    counts[lang][2] += rouge_same
    if not same and len(diff_examples) < 5:
        diff_examples.append((p, r, {k: (a.get(k), b[k]) for k in b if abs(a.get(k, 0) - b[k]) > 1e-12}))
print(json.dumps(counts), f"{time.perf_counter()-t0:.1f}s")
for d in diff_examples: print(d)
