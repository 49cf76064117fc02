"""general_qa on EvalScope's documented example set (tests/fixtures/custom_eval/qa/example.jsonl, as
EvalScope ships it), run unchanged through `evalpack eval` against a mock whose replies follow a
known plan. The expected BLEU and ROUGE are re-derived here from their published definitions
(rouge-chinese: distinct n-gram sets over whitespace words, LCS for L, F = 2PR/(P+R+1e-8); NLTK's
sentence_bleu: clipped n-gram precision times the brevity penalty), on jieba's words as EvalScope
segments Chinese; plus hand-checked values, strict file checks and the recorded sha256."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import MockProcess, run_dir_of, run_evalpack
from responders.custom_sets import QA_REPLIES

jieba = pytest.importorskip("jieba")  # the qa extra (CI installs it with the test extra)
FIXTURE = Path(__file__).parent / "fixtures" / "custom_eval" / "qa"
RESPONDER = Path(__file__).parent / "responders" / "custom_sets.py"
METRICS = [f"Rouge-{n}-{s}" for n in "12L" for s in "RPF"] + [f"bleu-{n}" for n in range(1, 5)]


# ---------- the independent re-derivation ----------
def words(text: str) -> list[str]:
    """ROUGE's words: jieba's words (spaces dropped) for Chinese text, else whitespace words."""
    if any("\u4e00" <= ch <= "\u9fa5" for ch in text):
        return [w for w in jieba.lcut(text) if w.strip()]
    return text.split()


def bleu_tokens(text: str) -> list[str]:
    if any("\u4e00" <= ch <= "\u9fa5" for ch in text):
        return jieba.lcut(text)
    return text.split()  # the English replies here are plain words, which NLTK splits the same way


def prf(overlap: int, hyp: int, ref: int) -> tuple[float, float, float]:
    p = overlap / hyp if hyp else 0.0
    r = overlap / ref if ref else 0.0
    return r, p, 2 * p * r / (p + r + 1e-8)


def lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def grams(tokens: list[str], n: int) -> list[tuple]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def expected_scores(prediction: str, reference: str) -> dict[str, float]:
    out = dict.fromkeys(METRICS, 0.0)
    if not prediction.strip():
        return out
    h, r = words(prediction), words(reference)
    for n in (1, 2):
        hs, rs = set(grams(h, n)), set(grams(r, n))
        out[f"Rouge-{n}-R"], out[f"Rouge-{n}-P"], out[f"Rouge-{n}-F"] = prf(len(hs & rs), len(hs), len(rs))
    out["Rouge-L-R"], out["Rouge-L-P"], out["Rouge-L-F"] = prf(lcs(h, r), len(h), len(r))
    hb, rb = bleu_tokens(prediction), bleu_tokens(reference)
    penalty = 1.0 if len(hb) > len(rb) else math.exp(1 - len(rb) / len(hb))
    unigram_hits = sum((Counter(hb) & Counter(rb)).values())
    for n in range(1, 5):
        hits = sum((Counter(grams(hb, n)) & Counter(grams(rb, n))).values())
        # NLTK: no unigram match -> 0; a zero higher-order precision -> the smallest float (~0)
        out[f"bleu-{n}"] = 0.0 if unigram_hits == 0 or hits == 0 else penalty * hits / max(1, len(grams(hb, n)))
    return out


def answer_part(reply) -> str:
    content = reply["content"] if isinstance(reply, dict) else reply
    if "</think>" in content:
        return content.rsplit("</think>", 1)[1]
    return "" if content.lstrip().startswith("<think>") else content


def test_hand_checked_values():
    from evalpack.scoring.text_overlap import overlap

    got = overlap("the cat sat", "the cat sat on the mat")
    assert (got["Rouge-1-R"], got["Rouge-1-P"]) == (0.6, 1.0)  # 3 of the 5 distinct reference words
    assert got["Rouge-1-F"] == pytest.approx(0.75, abs=1e-7)
    assert (got["Rouge-2-R"], got["Rouge-2-P"]) == (0.4, 1.0)  # 2 of the 5 distinct reference bigrams
    assert (got["Rouge-L-R"], got["Rouge-L-P"]) == (0.5, 1.0)  # LCS 3 of the reference's 6 words
    for n in (1, 2, 3):  # every n-gram of the reply matches; brevity penalty exp(1 - 6/3)
        assert got[f"bleu-{n}"] == pytest.approx(math.exp(-1), abs=1e-12)
    assert got["bleu-4"] == pytest.approx(0.0, abs=1e-300)  # the reply has no 4-gram
    same = overlap("是木星", "是木星")
    assert same["Rouge-L-R"] == 1.0 and same["bleu-1"] == 1.0 and same["Rouge-1-F"] == pytest.approx(1.0, abs=1e-7)
    assert all(v == 0.0 for v in overlap("", "是木星").values())
    assert overlap("Paris", "London")["Rouge-L-R"] == 0.0 and overlap("Paris", "London")["bleu-1"] == 0.0


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("general_qa")
    server = MockProcess("--responder", f"{RESPONDER}:qa")
    try:
        proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "general_qa",
                            "--dataset-args", json.dumps({"general_qa": {"local_path": str(FIXTURE),
                                                                          "system_prompt": "简短回答"}}),
                            "--work-dir", str(work), "--quiet")
        assert proc.returncode == 0, proc.stderr
        assert server.stats()["chat_requests"] == 13
    finally:
        server.stop()
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (run_dir / "samples" / "general_qa.jsonl").read_text("utf-8").splitlines()]
    return report, {r["sample_id"]: r for r in rows}


def test_example_set_scores_equal_the_rederivation(qa_run):
    report, rows = qa_run
    (section,) = report["datasets"]
    records = [json.loads(line) for line in (FIXTURE / "example.jsonl").read_text("utf-8").splitlines()]
    expected = []
    for i, rec in enumerate(records):
        query = rec.get("query") or rec["messages"][-1]["content"]
        want = expected_scores(answer_part(QA_REPLIES[query]), rec["response"])
        got = rows[f"example/{i}"]["detail"]
        for m in METRICS:
            assert got[m] == pytest.approx(want[m], abs=1e-9), (i, m, got[m], want[m])
        expected.append(want)
    assert section["metric"] == "Rouge-L-R" and section["num_samples"] == 13
    for m in METRICS:
        mean = sum(e[m] for e in expected) / len(expected)
        assert section["metrics"][m] == pytest.approx(mean, abs=1e-12), m
        (subset_row,) = section["groups"][m]
        assert subset_row["name"] == "example" and subset_row["score"] == pytest.approx(mean, abs=1e-12)
    assert section["score"] == pytest.approx(sum(e["Rouge-L-R"] for e in expected) / 13, abs=1e-12)
    assert 0.2 < section["score"] < 0.8  # the plan mixes right, partial and wrong answers
    # the unclosed think block is unparsed; the decoys inside reasoning are never graded
    assert section["num_unparsed"] == 1 and rows["example/4"]["unparsed"]
    assert rows["example/2"]["score"] < 1.0 and rows["example/11"]["score"] < 1.0  # the decoys would score 1
    assert rows["example/0"]["score"] == 1.0


def test_prompts_keep_the_records_shape(qa_run):
    _, rows = qa_run
    assert rows["example/0"]["prompt"] == [{"role": "system", "content": "你是一位天文学家"},
                                           {"role": "user", "content": "太阳系中最大的行星是哪颗？"}]
    assert rows["example/2"]["prompt"] == [{"role": "system", "content": "你是一位地理学家"},
                                           {"role": "user", "content": "世界上最大的沙漠是哪个？"}]
    # system_prompt only where the record has no system message (EvalScope's rule)
    assert rows["example/1"]["prompt"] == [{"role": "system", "content": "简短回答"},
                                           {"role": "user", "content": "什么动物被称为沙漠之舟？"}]


def test_run_records_the_files_sha256(qa_run):
    report, _ = qa_run
    meta = report["meta"]["datasets"]["general_qa"]
    path = FIXTURE / "example.jsonl"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (entry,) = meta["user_files"]
    assert entry == {"path": str(path.resolve()), "sha256": digest, "size": path.stat().st_size, "records": 13}
    assert meta["files"] == {str(path.resolve()): digest}


def test_chat_messages_with_the_reference_as_last_turn(tmp_path):
    (tmp_path / "chat.jsonl").write_text(json.dumps({"messages": [
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
        {"role": "user", "content": "世界上最长的河流是哪条？"}, {"role": "assistant", "content": "是尼罗河"}]},
        ensure_ascii=False) + "\n", encoding="utf-8")
    server = MockProcess("--responder", f"{RESPONDER}:qa")
    try:
        proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "general_qa",
                            "--dataset-args", json.dumps({"general_qa": {"local_path": str(tmp_path),
                                                                          "prompt_template": "请回答问题\n{question}"}}),
                            "--work-dir", str(tmp_path / "work"), "--quiet")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    row = json.loads((run_dir_of(proc) / "samples" / "general_qa.jsonl").read_text("utf-8"))
    assert row["subset"] == "chat" and row["target"] == "是尼罗河"
    assert row["prompt"][-1] == {"role": "user", "content": "请回答问题\n世界上最长的河流是哪条？"}
    assert len(row["prompt"]) == 3
    assert row["detail"] == pytest.approx(expected_scores("世界上最长的河流是尼罗河", "是尼罗河"), abs=1e-9)


BAD_FILES = [
    ('{"query": "a", "response": "b"}\n{"query": "c", "response": \n', 2, None, "not valid JSON"),
    ('{"query": "a", "response": "b"}\n{"query": "  ", "response": "d"}\n', 2, "query", "missing or empty"),
    ('{"query": "a"}\n', 1, "response", "reference answer"),
    ('["query", "a"]\n', 1, None, "not an object"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}], "response": "y"}\n',
     1, "messages[1]", "role"),
    ('{"messages": [{"role": "assistant", "content": "x"}], "response": "y"}\n', 1, "messages", "end with the user"),
    ('{"query": 3, "response": {"a": 1}}\n', 1, "response", "must be text"),
    ("\n\n", None, None, "holds no records"),
]


def eval_in_process(capsys, args: dict, work: Path) -> tuple[int, str]:
    """`evalpack eval` in this process (its data checks end before any socket): (exit code, stderr)."""
    from evalpack.cli import main

    code = main(["eval", "--model", "mock", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "general_qa",
                 "--dataset-args", json.dumps({"general_qa": args}), "--work-dir", str(work), "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("text,line,field,words_", BAD_FILES)
def test_bad_rows_stop_before_any_request(tmp_path, capsys, text, line, field, words_):
    (tmp_path / "mine.jsonl").write_text(text, encoding="utf-8")
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path)}, tmp_path / "work")
    message = err.strip()
    assert code == 2 and len(message.splitlines()) == 1, err
    assert str(tmp_path / "mine.jsonl") in message and words_ in message
    if line is not None:
        assert f"line {line}" in message
    if field is not None:
        assert f"field {field!r}" in message
    assert not (tmp_path / "work").exists()  # stopped before a run directory was made


def test_a_bad_row_through_the_cli_has_no_traceback(tmp_path):
    (tmp_path / "mine.jsonl").write_text('{"query": "a", "response": "b"}\n{"query": "c"\n', encoding="utf-8")
    proc = run_evalpack("eval", "--model", "mock", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "general_qa",
                        "--dataset-args", json.dumps({"general_qa": {"local_path": str(tmp_path)}}),
                        "--work-dir", str(tmp_path / "work"), "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == (f"evalpack: {tmp_path / 'mine.jsonl'} line 2: is not valid JSON "
                                   f"(Expecting ',' delimiter at column 14); each line must be one JSON object")


def test_unknown_subset_and_missing_folder(tmp_path, capsys):
    shutil.copy(FIXTURE / "example.jsonl", tmp_path / "example.jsonl")
    for args, words_ in (({"local_path": str(tmp_path), "subset_list": ["nope"]}, "no nope.jsonl"),
                         ({"local_path": str(tmp_path / "absent")}, "does not exist"),
                         ({"local_path": str(tmp_path), "few_shot_num": 2}, "few_shot_num")):
        code, err = eval_in_process(capsys, args, tmp_path / "work")
        assert code == 2 and words_ in err, err
