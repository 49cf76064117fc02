"""C-Eval on the real val split: a full run against a mock server whose replies follow a known
plan, checked against accuracy computed here from the CSVs; answer forms; prompt shape."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from evalpack.benchmarks.ceval import CEval, SUBJECTS
from evalpack.errors import DataMissingError, UsageError
from evalpack.scoring.choice import extract_choice
from knowledge_support import mock_server, run_eval, samples
from responders.knowledge import CEVAL_STYLES, ceval_index, ceval_key, ceval_rows, plan


@pytest.fixture(scope="module")
def ceval_run(datasets_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("ceval")
    with mock_server("ceval") as server:
        section, run_dir = run_eval(server.url, "ceval", datasets_dir, work)
        assert server.stats()["chat_requests"] == 1346
    return section, run_dir


def expected_results(datasets_dir: Path) -> dict[str, tuple[float, str | None]]:
    """sample id -> (score, letter the reply states), from the CSVs and the responder's plan."""
    rows = ceval_rows(datasets_dir / "ceval")
    index = ceval_index(rows)
    out = {}
    for r in rows:
        sid = f"{r['subject']}/{r['id']}"
        if index[ceval_key(r)] is None:  # the duplicated question with two golds
            out[sid] = (0.0, None)
            continue
        _, letter = plan(sid, r["answer"], CEVAL_STYLES)
        out[sid] = (float(letter == r["answer"]), letter)
    return out


def test_full_val_run_scores_exactly(ceval_run, datasets_dir):
    section, run_dir = ceval_run
    expected = expected_results(datasets_dir)
    assert len(expected) == 1346 and section["num_samples"] == 1346 and section["num_scored"] == 1346
    assert section["num_errors"] == 0

    overall = sum(s for s, _ in expected.values()) / len(expected)
    assert section["score"] == pytest.approx(overall, abs=1e-12)
    assert 0.4 < overall < 0.8  # the plan really mixes right and wrong answers

    by_subject = defaultdict(list)
    for sid, (s, _) in expected.items():
        by_subject[sid.split("/")[0]].append(s)
    got = {row["name"]: (row["score"], row["num"]) for row in section["subsets"]}
    assert set(got) == set(SUBJECTS)
    for subject, scores in by_subject.items():
        assert got[subject] == (pytest.approx(sum(scores) / len(scores), abs=1e-12), len(scores)), subject
    macro = sum(sum(v) / len(v) for v in by_subject.values()) / len(by_subject)
    assert section["metrics"]["accuracy_macro"] == pytest.approx(macro, abs=1e-12)

    mapping = json.loads((datasets_dir / "ceval" / "subject_mapping.json").read_text(encoding="utf-8"))
    by_category = defaultdict(list)
    for sid, (s, _) in expected.items():
        by_category[mapping[sid.split("/")[0]][2]].append(s)
    got_cat = {row["name"]: (row["score"], row["num"]) for row in section["groups"]["category"]}
    assert set(got_cat) == {"STEM", "Social Science", "Humanities", "Other"}
    for cat, scores in by_category.items():
        assert got_cat[cat] == (pytest.approx(sum(scores) / len(scores), abs=1e-12), len(scores)), cat
    assert section["num_unparsed"] == sum(1 for _, letter in expected.values() if letter is None)


def test_every_answer_form_is_read(ceval_run, datasets_dir):
    _, run_dir = ceval_run
    stored = samples(run_dir, "ceval")
    expected = expected_results(datasets_dir)
    seen_styles = set()
    for r in ceval_rows(datasets_dir / "ceval"):
        sid = f"{r['subject']}/{r['id']}"
        assert stored[sid]["extracted"] == expected[sid][1], (sid, stored[sid]["output"]["content"])
        seen_styles.add(stored[sid]["output"]["content"].replace(expected[sid][1] or "", "X"))
    # each Chinese and English form occurred in the run, right and wrong
    for style in ("答案：X", "答案是 X", "正确选项为X", "ANSWER: X", "The answer is (X)."):
        assert style in seen_styles


@pytest.mark.parametrize("reply, letter", [
    ("答案：C", "C"), ("答案是 C", "C"), ("正确选项为C", "C"), ("答案：Ｃ", "C"), ("（Ｂ）", "B"),
    ("正确答案是：D。", "D"), ("分析如下……\n所以答案为B", "B"), ("本题选 A。", "A"),
    ("ANSWER: C", "C"), ("The answer is (B).", "B"), ("The correct option is D.", "D"),
    ("这道题我不会。", None),
])
def test_chinese_and_english_forms(reply, letter):
    assert extract_choice(reply, "ABCD") == letter


def test_prompt_is_chinese_five_shot_from_dev(datasets_dir):
    bench = CEval()
    sample = next(s for s in bench.load(datasets_dir, bench.resolve_args({"subset_list": ["logic"]}))
                  if s.id == "logic/0")
    text = sample.messages[0]["content"]
    assert text.startswith("以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。")
    assert text.count("答案：") == 6  # the instruction + five dev examples
    assert "\r" not in text
    assert sample.metadata["category"] == "Humanities" and sample.subset == "logic"


def test_bad_args_and_missing_files(tmp_path, datasets_dir):
    with pytest.raises(UsageError):
        CEval().resolve_args({"subset_list": ["no_such_subject"]})
    bench = CEval()
    with pytest.raises(DataMissingError, match="subject_mapping.json"):
        bench.load(tmp_path, bench.resolve_args(None))
    with pytest.raises(DataMissingError, match="few_shot_num"):
        bench.load(datasets_dir, bench.resolve_args({"few_shot_num": 6, "subset_list": ["logic"]}))
