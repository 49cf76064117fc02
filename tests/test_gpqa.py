"""GPQA-Diamond on the real (password-protected) file: full runs against a mock server that
finds the correct option among the shuffled ones, checked against accuracy computed here;
the shuffle is stable for a seed, differs across seeds, and is stored for audit."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from conftest import run_evalpack
from evalpack.benchmarks.gpqa import GPQADiamond, permutation
from evalpack.errors import DataMissingError
from knowledge_support import mock_server, run_eval, samples
from responders.knowledge import GPQA_STYLES, gpqa_rows, plan

LETTERS = "ABCD"


@pytest.fixture(scope="module")
def runs(datasets_dir, tmp_path_factory):
    """Three full runs: seed 42 twice (separate run dirs) and seed 7."""
    out = {}
    with mock_server("gpqa") as server:
        for name, seed in (("a", 42), ("b", 42), ("c", 7)):
            out[name] = run_eval(server.url, "gpqa_diamond", datasets_dir, tmp_path_factory.mktemp(f"gpqa{name}"),
                                 "--seed", str(seed), "--generation-config", '{"max_tokens": 4096}')
    return out


def test_full_run_scores_exactly(runs, datasets_dir):
    rows = gpqa_rows(datasets_dir / "gpqa")
    assert len(rows) == 198
    # whether the reply is right does not depend on the shuffle: the responder states the
    # correct option's letter (wherever it landed) for the planned part, another letter otherwise
    expected = {}
    for r in rows:
        _, letter = plan(r["Record ID"], "A", GPQA_STYLES)  # with gold "A": right iff it says "A"
        expected[r["Record ID"]] = (float(letter == "A"), r["High-level domain"], letter is None)
    overall = sum(v[0] for v in expected.values()) / len(expected)
    assert 0.4 < overall < 0.8
    by_domain = defaultdict(list)
    for score, domain, _ in expected.values():
        by_domain[domain].append(score)
    for name in ("a", "c"):
        section, _ = runs[name]
        assert section["num_scored"] == 198 and section["num_errors"] == 0
        assert section["score"] == pytest.approx(overall, abs=1e-12)
        got = {row["name"]: (row["score"], row["num"]) for row in section["subsets"]}
        assert got == {d: (pytest.approx(sum(v) / len(v), abs=1e-12), len(v)) for d, v in by_domain.items()}
        assert set(got) == {"Physics", "Chemistry", "Biology"}
        assert section["num_unparsed"] == sum(1 for v in expected.values() if v[2])


def test_permutation_is_stored_and_reproduces_the_gold(runs, datasets_dir):
    rows = {r["Record ID"]: r for r in gpqa_rows(datasets_dir / "gpqa")}
    _, run_dir = runs["a"]
    for sid, rec in samples(run_dir, "gpqa_diamond").items():
        r, meta = rows[sid], rec["metadata"]
        original = [r[k].strip() for k in ("Correct Answer", "Incorrect Answer 1",
                                           "Incorrect Answer 2", "Incorrect Answer 3")]
        assert sorted(meta["permutation"]) == [0, 1, 2, 3] and meta["seed"] == 42
        assert meta["options"] == [original[i] for i in meta["permutation"]]
        assert rec["target"] == LETTERS[meta["permutation"].index(0)]
        if rec["score"] == 1.0:  # a right answer names the position of the correct text
            assert meta["options"][LETTERS.index(rec["extracted"])] == original[0]


def test_shuffle_is_stable_per_seed_and_differs_across_seeds(runs):
    perms = {name: {sid: rec["metadata"]["permutation"] for sid, rec in samples(run_dir, "gpqa_diamond").items()}
             for name, (_, run_dir) in runs.items()}
    assert runs["a"][1] != runs["b"][1]  # separate run directories, nothing shared but the seed
    assert perms["a"] == perms["b"]
    differing = sum(perms["a"][sid] != perms["c"][sid] for sid in perms["a"])
    assert differing > 150  # 23 of 24 orders differ by chance; ~190 expected
    golds = {name: [LETTERS[p.index(0)] for p in perm.values()] for name, perm in perms.items()}
    assert len(set(golds["a"])) == 4  # the correct answer is not stuck in one position


def test_shuffle_independent_of_subset_and_order(datasets_dir):
    bench = GPQADiamond()
    full = {s.id: s.metadata["permutation"] for s in bench.load(datasets_dir, bench.resolve_args({"seed": 3}))}
    physics = bench.load(datasets_dir, bench.resolve_args({"seed": 3, "subset_list": ["Physics"]}))
    assert len(physics) == 86 and all(full[s.id] == s.metadata["permutation"] for s in physics)
    ids = [f"rec{i}" for i in range(24)]
    assert [permutation(3, i) for i in ids] == [permutation(3, i) for i in ids]
    assert sum(permutation(3, i) != permutation(4, i) for i in ids) > 12


def test_prompt_lets_the_model_reason(datasets_dir):
    bench = GPQADiamond()
    sample = bench.load(datasets_dir, bench.resolve_args(None))[0]
    text = sample.messages[0]["content"]
    assert "step by step" in text and "ANSWER: $LETTER" in text
    for i, letter in enumerate(LETTERS):
        assert f"\n{letter}. {sample.metadata['options'][i]}" in text


def test_missing_or_unreadable_zip(tmp_path):
    bench = GPQADiamond()
    with pytest.raises(DataMissingError, match="no data"):
        bench.load(tmp_path, bench.resolve_args({"local_path": str(tmp_path)}))
    (tmp_path / "gpqa_diamond.zip").write_bytes(b"not a zip")
    with pytest.raises(DataMissingError, match="cannot read"):
        bench.load(tmp_path, bench.resolve_args({"local_path": str(tmp_path)}))


def test_rescore_from_stored_outputs_gives_the_same_report(runs):
    section, run_dir = runs["c"]
    proc = run_evalpack("rescore", str(run_dir), "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    (again,) = report["datasets"]
    assert report["rescored"] and again["score"] == section["score"] and again["subsets"] == section["subsets"]
