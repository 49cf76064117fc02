"""general_mcq on EvalScope's documented example set (tests/fixtures/custom_eval/mcq, as EvalScope
ships it: example_val/example_dev in both .csv and .jsonl), run unchanged through `evalpack eval`
against a mock whose replies follow a known plan; accuracy equal to a count made here from the
files; EvalScope's prompt, few-shot, subsets, option counts; every bad file is exit 2 naming the
file, the line and the field."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import MockProcess, run_dir_of, run_evalpack
from responders.custom_sets import MCQ_STATED, MULTI_STATED

FIXTURE = Path(__file__).parent / "fixtures" / "custom_eval" / "mcq"
RESPONDER = Path(__file__).parent / "responders" / "custom_sets.py"
# EvalScope's default template (CHINESE_SINGLE_ANSWER_TEMPLATE) filled in, written out by hand
FIRST_PROMPT = ("回答下面的单项选择题，请选出其中的正确答案。你的回答的全部内容应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
                "其中 [LETTER] 是 A,B,C,D 中的一个。\n\n问题：以下哪个公式是二次函数的标准形式？\n选项：\n"
                "A) y = mx + b\nB) y = ax^2 + bx + c\nC) y = x^2 + 2x + 1\nD) y = a + bx\n")


@pytest.fixture(scope="module")
def server():
    mock = MockProcess("--responder", f"{RESPONDER}:mcq")
    yield mock
    mock.stop()


def run(server, work: Path, args: dict, *extra: str) -> tuple[dict, dict[str, dict], Path]:
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "general_mcq",
                        "--dataset-args", json.dumps({"general_mcq": args}, ensure_ascii=False),
                        "--work-dir", str(work), "--quiet", *extra)
    assert proc.returncode == 0, proc.stderr
    run_dir = run_dir_of(proc)
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (run_dir / "samples" / "general_mcq.jsonl").read_text("utf-8").splitlines()]
    return report, {r["sample_id"]: r for r in rows}, run_dir


def expected(records: list[dict]) -> tuple[float, dict[str, float], int]:
    """accuracy, accuracy per category and unparsed count, from the records and the reply plan."""
    by_category = defaultdict(list)
    for rec in records:
        by_category[rec["category"]].append(MCQ_STATED[rec["question"]] == rec["answer"])
    flat = [x for v in by_category.values() for x in v]
    unparsed = sum(1 for rec in records if MCQ_STATED[rec["question"]] is None)
    return sum(flat) / len(flat), {k: sum(v) / len(v) for k, v in by_category.items()}, unparsed


def test_the_example_set_as_shipped(server, tmp_path):
    report, rows, _ = run(server, tmp_path, {"local_path": str(FIXTURE), "subset_list": ["example"]})
    (section,) = report["datasets"]
    records = [json.loads(line) for line in (FIXTURE / "example_val.jsonl").read_text("utf-8").splitlines()]
    accuracy, per_category, unparsed = expected(records)
    assert section["metric"] == "accuracy" and section["num_samples"] == 12 == section["num_scored"]
    assert section["score"] == pytest.approx(accuracy, abs=1e-12) and 0.3 < accuracy < 0.9
    assert [(s["name"], s["num"]) for s in section["subsets"]] == [("example", 12)]
    assert {g["name"]: g["score"] for g in section["groups"]["category"]} == pytest.approx(per_category)
    assert section["num_unparsed"] == unparsed == 2
    # the decoys in <think> and in reasoning_content are not graded
    assert rows["example/3"]["extracted"] == "A" and rows["example/12"]["extracted"] == "C"
    assert rows["example/1"]["prompt"] == [{"role": "user", "content": FIRST_PROMPT}]
    # .jsonl is read first when both exist (EvalScope's order); its sha256 is recorded
    meta = report["meta"]["datasets"]["general_mcq"]
    path = (FIXTURE / "example_val.jsonl").resolve()
    assert meta["user_files"] == [{"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                   "size": path.stat().st_size, "records": 12}]


def test_csv_with_few_shot_and_a_system_prompt(server, tmp_path):
    data = tmp_path / "mcq"
    data.mkdir()
    for name in ("example_val.csv", "example_dev.csv"):
        shutil.copy(FIXTURE / name, data / name)
    report, rows, _ = run(server, tmp_path / "work", {"local_path": str(data), "few_shot_num": 2,
                                                       "system_prompt": "你是一位专家"})
    (section,) = report["datasets"]
    with open(FIXTURE / "example_val.csv", newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert section["score"] == pytest.approx(expected(records)[0], abs=1e-12)
    few_shot = ("Here are some examples of how to answer similar questions:\n\n"
                "通常来说，组成动物蛋白质的氨基酸有____\nA) 4种\nB) 22种\nC) 20种\nD) 19种\nANSWER: C\n\n"
                "血液内存在的下列物质中，不属于代谢终产物的是____。\nA) 尿素\nB) 尿酸\nC) 丙酮酸\nD) 二氧化碳\nANSWER: C\n\n")
    assert rows["example/1"]["prompt"] == [{"role": "system", "content": "你是一位专家"},
                                           {"role": "user", "content": few_shot + FIRST_PROMPT}]
    names = {Path(u["path"]).name for u in report["meta"]["datasets"]["general_mcq"]["user_files"]}
    assert names == {"example_val.csv", "example_dev.csv"}


def test_subsets_are_discovered_and_options_vary(server, tmp_path):
    data = tmp_path / "mcq"
    data.mkdir()
    rows_a = [{"id": "q1", "question": "1+1=?", "A": "1", "B": "2", "C": "3", "answer": "B"},
              {"id": "q2", "question": "Pick F", "A": "a", "B": "b", "C": "c", "D": "d", "E": "e", "F": "f",
               "answer": "F"}]
    (data / "alpha_val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_a), encoding="utf-8")
    (data / "beta_val.csv").write_text("question,A,B,answer\n\"Yes, or no?\",yes,no,a\n", encoding="utf-8")
    (data / "notes.txt").write_text("not a subset", encoding="utf-8")
    template = "{question}\n{choices}\nletters {letters}; old style:\n{query}"
    report, rows, _ = run(server, tmp_path / "work", {"local_path": str(data), "prompt_template": template})
    (section,) = report["datasets"]
    assert [s["name"] for s in section["subsets"]] == ["alpha", "beta"]
    assert rows["alpha/q1"]["prompt"][0]["content"] == ("1+1=?\nA) 1\nB) 2\nC) 3\nletters A,B,C; old style:\n"
                                                        "1+1=?\nA) 1\nB) 2\nC) 3")
    assert "letters A,B,C,D,E,F;" in rows["alpha/q2"]["prompt"][0]["content"]
    assert rows["alpha/q2"]["target"] == "F" and rows["beta/0"]["target"] == "A"  # no id column: row index
    assert rows["beta/0"]["metadata"]["options"] == ["yes", "no"]
    report, rows, _ = run(server, tmp_path / "work2", {"local_path": str(data), "subset_list": ["beta"]})
    assert list(rows) == ["beta/0"]


def test_multiple_correct_and_cot_as_evalscope(server, tmp_path):
    args = {"local_path": str(FIXTURE), "subset_list": ["example_multi"], "few_shot_num": 1,
            "extra_params": {"multiple_correct": True}}
    report, rows, _ = run(server, tmp_path / "w", args)
    (section,) = report["datasets"]
    records = [json.loads(line) for line in (FIXTURE / "example_multi_val.jsonl").read_text("utf-8").splitlines()]
    right = [MULTI_STATED[r["question"]] == "".join(sorted(r["answer"])) for r in records]
    assert section["score"] == pytest.approx(sum(right) / len(right), abs=1e-12) and 0 < sum(right) < len(right)
    assert section["num_unparsed"] == sum(1 for r in records if MULTI_STATED[r["question"]] is None) == 2
    assert rows["example_multi/1"]["target"] == "AC" and rows["example_multi/5"]["extracted"] == "AD"
    dev = json.loads((FIXTURE / "example_multi_dev.jsonl").read_text("utf-8").splitlines()[0])
    prompt = rows["example_multi/1"]["prompt"][0]["content"]
    assert prompt.startswith("Here are some examples of how to answer similar questions:\n\n" + dev["question"])
    assert ("\nANSWER: " + "".join(sorted(dev["answer"])) + "\n\n回答下面的多项选择题，请选出其中的所有正确答案。") in prompt
    assert prompt.endswith("其中 [LETTERS] 是 A,B,C,D 中的一个或多个。\n问题：下列属于哺乳动物的是？\n选项：\n"
                           "A) 鲸\nB) 蛇\nC) 蝙蝠\nD) 鲨鱼\n")
    _, rows, _ = run(server, tmp_path / "w2", {"local_path": str(FIXTURE), "subset_list": ["example"],
                                               "extra_params": {"use_cot": True}})
    assert rows["example/1"]["prompt"][0]["content"].startswith(
        "回答下面的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），其中 [LETTER] 是 "
        "A,B,C,D 中的一个。请在回答前进行一步步思考。\n\n问题：")


def test_multiple_correct_checks_its_answers(tmp_path, capsys):
    for answer, words in (('"AC"', "must be a list of letters"), ('["A", "E"]', "'E' is not one of the options"),
                          ('["A", "A"]', "a letter twice"), ('[]', "must be a list of letters")):
        (tmp_path / "m_val.jsonl").write_text(f'{{"question": "q", "A": "a", "B": "b", "C": "c", "answer": {answer}}}\n',
                                              encoding="utf-8")
        code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "extra_params": {"multiple_correct": True}},
                                    tmp_path / "w")
        assert code == 2 and "line 1, field 'answer'" in err and words in err, err
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "extra_params": {"multiple": True}},
                                tmp_path / "w")
    assert code == 2 and "no key 'multiple'" in err, err


EXAMPLE_HEAD = "id,question,A,B,C,D,answer\n1,Q one,a,b,c,d,A\n"
BAD = [  # (file name, bytes, line, field, words)
    ("ex_val.jsonl", b'{"id": "1", "question": "q", "A": "a", "B": "b", "answer": "A"}\n{"id": "2", "question"\n',
     2, None, "not valid JSON"),
    ("ex_val.csv", EXAMPLE_HEAD.encode() + b"2,,a,b,c,d,B\n", 3, "question", "is empty"),
    ("ex_val.jsonl", b'{"id": "1", "A": "a", "B": "b", "answer": "A"}\n', 1, "question", "is missing"),
    ("ex_val.csv", EXAMPLE_HEAD.encode() + b"2,Q two,a,b,c,d,E\n", 3, "answer", "'E' is not one of the options"),
    ("ex_val.csv", EXAMPLE_HEAD.encode() + b"2,Q two,a,b,,d,D\n", 3, "C", "without a gap"),
    ("ex_val.csv", EXAMPLE_HEAD.encode() + b"2,Q two,a,b,c,d,\n", 3, "answer", "is empty"),
    ("ex_val.csv", EXAMPLE_HEAD.encode() + b"1,Q two,a,b,c,d,B\n", 3, "id", "repeats the id of line 2"),
    ("ex_val.csv", EXAMPLE_HEAD.encode() + b",Q two,a,b,c,d,B\n", 3, "id", "other rows have one"),
    ("ex_val.csv", "id,question,A,B,C,D,answer\n1,通常来说，组成动物蛋白质的氨基酸有____,4种,22种,20种,19种,C\n"
     .encode("gbk"), 2, None, "not UTF-8"),
    ("ex_val.csv", b"", None, None, "holds no records"),
    ("ex_val.csv", b"id,question,A,B,C,D,answer\n", None, None, "holds no records"),
    # EvalScope's English doc example: an unquoted comma inside the question
    ("ex_val.csv", b"id,question,A,B,C,D,answer\n1,Generally speaking, the amino acids are ____,4 types,22 types,"
     b"20 types,19 types,C\n", 2, None, "has 8 fields, the header has 7"),
    ("ex_val.csv", b"id,question,A,A,answer\n1,q,a,b,A\n", 1, "A", "names this column twice"),
    ("ex_val.jsonl", b'{"question": "q", "A": "a", "B": "b", "answer": ["A", "B"]}\n', 1, "answer", "multiple_correct"),
    ("ex_val.jsonl", b'{"question": "q", "A": "a", "answer": "A"}\n', 1, "B", "at least options A and B"),
    ("ex_val.jsonl", b'{"question": {"t": 1}, "A": "a", "B": "b", "answer": "A"}\n', 1, "question", "must be text"),
]


def eval_in_process(capsys, args: dict, work: Path) -> tuple[int, str]:
    """`evalpack eval` in this process (its data checks end before any socket): (exit code, stderr)."""
    from evalpack.cli import main

    code = main(["eval", "--model", "mock", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "general_mcq",
                 "--dataset-args", json.dumps({"general_mcq": args}), "--work-dir", str(work), "--quiet"])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("name,data,line,field,words", BAD, ids=[f"{i}-{b[4][:20]}" for i, b in enumerate(BAD)])
def test_bad_files_stop_before_any_request(tmp_path, capsys, name, data, line, field, words):
    (tmp_path / name).write_bytes(data)
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path)}, tmp_path / "work")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert str(tmp_path / name) in err and words in err, err
    if line is not None:
        assert f"line {line}" in err, err
    if field is not None:
        assert f"field {field!r}" in err, err
    assert not (tmp_path / "work").exists()


def test_missing_files_and_few_shot_shortfalls(tmp_path, capsys):
    shutil.copy(FIXTURE / "example_dev.csv", tmp_path / "example_dev.csv")
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path)}, tmp_path / "w")
    assert code == 2 and "no <subset>_val.csv or <subset>_val.jsonl" in err, err
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "subset_list": ["example"]}, tmp_path / "w")
    assert code == 2 and "no example_val.jsonl or example_val.csv" in err, err
    shutil.copy(FIXTURE / "example_val.csv", tmp_path / "example_val.csv")
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "few_shot_num": 3}, tmp_path / "w")
    assert code == 2 and "has 2 examples, fewer than few_shot_num=3" in err, err
    (tmp_path / "example_dev.csv").unlink()
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "few_shot_num": 1}, tmp_path / "w")
    assert code == 2 and "needs example_dev.jsonl or example_dev.csv" in err, err
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path / "nowhere")}, tmp_path / "w")
    assert code == 2 and "does not exist" in err, err
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "few_shot_num": "2"}, tmp_path / "w")
    assert code == 2 and "few_shot_num must be an integer" in err, err
    code, err = eval_in_process(capsys, {"local_path": str(tmp_path), "prompt_template": "{question} {nope}"},
                                tmp_path / "w")
    assert code == 2 and "unknown placeholder {nope}" in err, err


def test_a_bad_file_through_the_cli_has_no_traceback(tmp_path):
    (tmp_path / "ex_val.csv").write_bytes(EXAMPLE_HEAD.encode() + b"2,Q two,a,b,c,d,X\n")
    proc = run_evalpack("eval", "--model", "mock", "--api-url", "http://127.0.0.1:9/v1", "--datasets", "general_mcq",
                        "--dataset-args", json.dumps({"general_mcq": {"local_path": str(tmp_path)}}),
                        "--work-dir", str(tmp_path / "work"), "--quiet")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"evalpack: {tmp_path / 'ex_val.csv'} line 3, field 'answer': 'X' is not one "
                                   f"of the options this question has (A, B, C, D)")


# ---------- a user's set in a kit: pack --local, unpack, verify, eval ----------
def cli(capsys, *argv: str) -> tuple[int, str, str]:
    from evalpack.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def rewrite_member(archive: Path, out: Path, member: str, change) -> None:
    """A copy of the kit with one member's bytes changed (its manifest entry kept)."""
    import io
    import tarfile

    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for info in src:
            data = src.extractfile(info).read()
            if info.name == member:
                data = change(data)
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_pack_local_unpack_verify_eval(server, tmp_path, capsys):
    import tarfile

    kit = tmp_path / "kit.tar"
    code, _, err = cli(capsys, "pack", "--local", f"my_exam={FIXTURE}", "--local", f"general_mcq={FIXTURE}",
                       "--out", str(kit))
    assert code == 0, err
    with tarfile.open(kit) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    entry = next(d for d in manifest["datasets"] if d["name"] == "my_exam")
    assert entry["local"] is True
    assert {f["path"]: f["sha256"] for f in entry["files"]} == {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in FIXTURE.iterdir()}

    data = tmp_path / "data"
    code, out, err = cli(capsys, "unpack", str(kit), "--to", str(data))
    assert code == 0 and "12 files written" in out, out + err
    for p in FIXTURE.iterdir():
        assert (data / "my_exam" / p.name).read_bytes() == p.read_bytes()
    code, out, _ = cli(capsys, "verify", "--dataset-dir", str(data))
    assert code == 0 and "my_exam: 6 files checked, ok" in out and "general_mcq: 6 files checked, ok" in out, out
    code, out, _ = cli(capsys, "list", "--dataset-dir", str(data))
    assert code == 0 and re.search(r"\n  my_exam +6 files  verified\n", out) and "No benchmark data" not in out, out

    records = [json.loads(line) for line in (FIXTURE / "example_val.jsonl").read_text("utf-8").splitlines()]
    # the kit's path through local_path, and as <dataset-dir>/general_mcq with no dataset-args
    report, _, _ = run(server, tmp_path / "w1", {"local_path": str(data / "my_exam"), "subset_list": ["example"]})
    assert report["datasets"][0]["score"] == pytest.approx(expected(records)[0], abs=1e-12)
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "general_mcq",
                        "--dataset-dir", str(data), "--dataset-args", '{"general_mcq": {"subset_list": ["example"]}}',
                        "--work-dir", str(tmp_path / "w2"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((run_dir_of(proc) / "report.json").read_text("utf-8"))
    assert again["datasets"][0]["score"] == report["datasets"][0]["score"]

    # a byte changed on disk: verify reports it, eval refuses before any request
    target = data / "my_exam" / "example_val.jsonl"
    good = target.read_bytes()
    target.write_bytes(good.replace(b'"answer": "B"', b'"answer": "C"', 1))
    code, out, _ = cli(capsys, "verify", "--dataset-dir", str(data), "--datasets", "my_exam")
    assert code == 1 and "CORRUPT my_exam/example_val.jsonl: sha256" in out, out
    code, err = eval_in_process(capsys, {"local_path": str(data / "my_exam"), "subset_list": ["example"]},
                                tmp_path / "w3")
    assert code == 2 and "example_val.jsonl: sha256" in err and "no longer match the kit" in err, err
    target.write_bytes(good)

    # a tampered kit: the changed file is refused and the verified copy stays as it was
    bad_kit = tmp_path / "bad.tar"
    rewrite_member(kit, bad_kit, "datasets/my_exam/example_val.jsonl", lambda b: b.replace(b'"B"', b'"C"', 1))
    fresh = tmp_path / "fresh"
    code, out, _ = cli(capsys, "unpack", str(bad_kit), "--to", str(fresh))
    assert code == 1 and "CORRUPT my_exam/example_val.jsonl" in out, out
    assert not (fresh / "my_exam" / "example_val.jsonl").exists()
    (data / "my_exam" / "example_val.jsonl").unlink()
    code, out, _ = cli(capsys, "unpack", str(bad_kit), "--to", str(data))
    assert code == 1 and not (data / "my_exam" / "example_val.jsonl").exists()


def test_a_users_set_never_takes_a_registry_name(tmp_path, capsys, datasets_dir):
    import io
    import tarfile

    code, _, err = cli(capsys, "pack", "--local", f"mmlu={FIXTURE}", "--out", str(tmp_path / "k.tar"))
    assert code == 2 and "'mmlu' is a registry dataset" in err, err
    code, _, err = cli(capsys, "pack", "--local", f"../up={FIXTURE}", "--out", str(tmp_path / "k.tar"))
    assert code == 2 and "the name must be" in err, err
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "x_val.jsonl").write_text('{"question": "q"\n', encoding="utf-8")
    code, _, err = cli(capsys, "pack", "--local", f"mine={folder}", "--out", str(tmp_path / "k.tar"))
    assert code == 2 and "x_val.jsonl line 1: is not valid JSON" in err, err
    # a hand-made kit calling a user's set "gpqa": unpack refuses it and the verified files stay
    verified = tmp_path / "data" / "gpqa"
    shutil.copytree(datasets_dir / "gpqa", verified)
    before = {p.name: p.read_bytes() for p in verified.rglob("*") if p.is_file()}
    name = next(iter(sorted(before)))
    manifest = {"format": "evalpack-kit/1", "evalpack_version": "0", "datasets": [
        {"name": "gpqa", "local": True, "files": [{"path": name, "sha256": hashlib.sha256(b"evil").hexdigest(),
                                                   "size": 4}]}]}
    with tarfile.open(tmp_path / "evil.tar", "w") as tar:
        for member, data in (("manifest.json", json.dumps(manifest).encode()), (f"datasets/gpqa/{name}", b"evil")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code, _, err = cli(capsys, "unpack", str(tmp_path / "evil.tar"), "--to", str(tmp_path / "data"))
    assert code == 2 and "never replaces verified data" in err, err
    assert {p.name: p.read_bytes() for p in verified.rglob("*") if p.is_file()} == before


def test_same_files_resume_an_edited_file_is_asked_again(tmp_path):
    data = tmp_path / "mcq"
    data.mkdir()
    shutil.copy(FIXTURE / "example_val.csv", data / "example_val.csv")
    mock = MockProcess("--responder", f"{RESPONDER}:mcq")  # its own, to count this test's requests
    try:
        args = {"local_path": str(data)}
        first, _, run_dir = run(mock, tmp_path / "w", args)
        assert mock.stats()["chat_requests"] == 12
        again, _, same_dir = run(mock, tmp_path / "w", args)
        assert same_dir == run_dir and mock.stats()["chat_requests"] == 12  # resumed: nothing asked
        text = (data / "example_val.csv").read_text(encoding="utf-8")
        text = text.replace("343 m/s,792 km/s,225 km/h,60 m/s,A", "343 m/s,792 km/s,225 km/h,60 m/s,C")
        text = text.replace("水的化学式是什么？", "水的分子式是什么？")
        (data / "example_val.csv").write_text(text, encoding="utf-8")
        edited, rows, _ = run(mock, tmp_path / "w", args)
        # a new question set: every question scored again, against the new golds; the one prompt
        # that changed is sent, the others' replies come from the run's call cache (same request)
        assert mock.stats()["chat_requests"] == 13
    finally:
        mock.stop()
    digest = lambda r: r["meta"]["datasets"]["general_mcq"]["digest"]  # noqa: E731
    assert digest(first) == digest(again) != digest(edited)
    assert edited["datasets"][0]["variant"] != first["datasets"][0]["variant"]
    assert rows["example/2"]["target"] == "C" and rows["example/2"]["score"] == 1.0  # the reply says C
    assert rows["example/3"]["unparsed"]  # the reworded question is one the responder does not know
    assert first["datasets"][0]["score"] == pytest.approx(8 / 12) and edited["datasets"][0]["score"] == pytest.approx(8 / 12)
