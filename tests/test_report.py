"""report.json's intervals, compare's paired test and flips, the terminal summary, the export:
checked against computations written here from the exported samples, not evalpack's."""

import base64
import gzip
import json
import math
import re
from pathlib import Path

import pytest
from conftest import run_dir_of, run_evalpack

from evalpack import stats
from evalpack.benchmarks.base import Result
from evalpack.metrics import accuracy_report, add_intervals

RESPONDER = str(Path(__file__).parent / "responders" / "varied.py")
SUBJECTS = ["anatomy", "virology", "astronomy"]
Z = 1.959963984540054


def _run(server, datasets_dir, work, *extra):
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(work), "--quiet", "--limit", "12",
                        "--dataset-args", json.dumps({"mmlu": {"subset_list": SUBJECTS}}), *extra)
    assert proc.returncode == 0, proc.stderr
    return run_dir_of(proc), proc


def _samples(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples" / "mmlu.jsonl").read_text().splitlines()]


def _binomial(scores: list[float]) -> tuple[float, float]:
    p = sum(scores) / len(scores)
    return p, math.sqrt(p * (1 - p) / len(scores))


def _mcnemar(b: int, c: int) -> float:
    n = b + c
    return 1.0 if n == 0 else min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, datasets_dir):
    from conftest import MockProcess

    work = tmp_path_factory.mktemp("runs")
    a_srv, b_srv = MockProcess("--responder", f"{RESPONDER}:model_a"), MockProcess("--responder", f"{RESPONDER}:model_b")
    try:
        a, proc_a = _run(a_srv, datasets_dir, work / "a")
        b, _ = _run(b_srv, datasets_dir, work / "b", "--seed", "7")
        again = run_evalpack("eval", "--model", "mock", "--api-url", a_srv.url, "--datasets", "mmlu",
                             "--dataset-dir", str(datasets_dir), "--work-dir", str(work / "a"), "--limit", "12",
                             "--dataset-args", json.dumps({"mmlu": {"subset_list": SUBJECTS}}))
    finally:
        a_srv.stop()
        b_srv.stop()
    return {"a": a, "b": b, "proc_a": proc_a, "again": again, "work": work}


def test_report_intervals_match_binomial(two_runs):
    rows = _samples(two_runs["a"])
    assert len(rows) == 36 and all(r["prompt"][-1]["role"] == "user" for r in rows)  # the export has prompts
    section = json.loads((two_runs["a"] / "report.json").read_text())["datasets"][0]
    scores = [r["score"] for r in rows]
    p, se = _binomial(scores)
    assert 0 < p < 1
    assert section["score"] == pytest.approx(p) and section["stderr"] == pytest.approx(se)
    assert section["ci_low"] == pytest.approx(p - Z * se) and section["ci_high"] == pytest.approx(p + Z * se)
    for sub in section["subsets"]:
        ps, ses = _binomial([r["score"] for r in rows if r["subset"] == sub["name"]])
        assert (sub["score"], sub["stderr"], sub["ci_low"]) == pytest.approx((ps, ses, ps - Z * ses))
    # the macro average: the exact stratified SE, sqrt(sum SE_s^2) / S
    macro = section["intervals"]["accuracy_macro"]
    assert macro["stderr"] == pytest.approx(math.sqrt(sum(s["stderr"] ** 2 for s in section["subsets"])) / 3)
    unparsed = sum(1 for r in rows if r["unparsed"])
    assert unparsed == section["num_unparsed"] > 0
    md = (two_runs["a"] / "report.md").read_text()
    assert f"| {section['score']:.4f} | {se:.4f} | [{p - Z * se:.4f}, {p + Z * se:.4f}] |" in md


def test_terminal_summary_paths_and_resume(two_runs):
    out = two_runs["proc_a"].stdout.splitlines()
    assert out[-1] == f"run directory: {two_runs['a']}" and Path(out[-1].split(": ", 1)[1]).is_absolute()
    assert out[-2] == f"report: {two_runs['a'] / 'report.html'}"
    (line,) = [x for x in out if x.startswith("| mock | mmlu |")]  # one line per dataset, no subject rows
    section = json.loads((two_runs["a"] / "report.json").read_text())["datasets"][0]
    assert f"{section['score']:.4f} ± {Z * section['stderr']:.4f} | 36 | 0 | {section['num_unparsed']} |" in line
    assert not any("anatomy" in x for x in out)
    again = two_runs["again"]
    assert again.returncode == 0, again.stderr
    assert "mmlu: resumed: 36 of 36 already answered" in again.stderr


def test_compare_paired_test_and_flips(two_runs, tmp_path):
    out = tmp_path / "cmp" / "compare.html"
    proc = run_evalpack("compare", str(two_runs["a"]), str(two_runs["b"]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.with_suffix(".json").read_text())
    a = {r["sample_id"]: r["score"] for r in _samples(two_runs["a"])}
    b = {r["sample_id"]: r["score"] for r in _samples(two_runs["b"])}
    gained = sorted(i for i in a if a[i] == 0 and b[i] == 1)
    lost = sorted(i for i in a if a[i] == 1 and b[i] == 0)
    assert gained and lost
    (comp,) = result["comparisons"]
    (d,) = comp["datasets"]
    assert d["n_common"] == 36 and (d["gained"], d["lost"]) == (len(gained), len(lost))
    assert sorted(d["flipped_ids"]["gained"]) == gained and sorted(d["flipped_ids"]["lost"]) == lost
    assert d["test"] == "mcnemar-exact" and d["p_value"] == pytest.approx(_mcnemar(len(lost), len(gained)))
    diffs = [b[i] - a[i] for i in a]
    mean = sum(diffs) / 36
    se = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 35 / 36)
    assert d["difference"] == pytest.approx(mean) and d["ci_low"] == pytest.approx(mean - Z * se)
    assert {s["subset"] for s in d["subsets"]} == set(SUBJECTS)
    assert any("--seed differs: 42" in w for w in comp["warnings"])
    assert all(r["label"].startswith("mock · ") for r in result["runs"])
    assert "WARNING: --seed differs" in proc.stdout
    row = next(x for x in proc.stdout.splitlines() if x.startswith("| mmlu | accuracy | OVERALL |"))
    assert f"| {d['score_a']:.4f} | {d['score_b']:.4f} | {mean:+.4f} |" in row

    bad = run_evalpack("compare", str(tmp_path / "nope"), str(two_runs["a"]))
    assert bad.returncode == 2 and "no report.json" in bad.stderr


def test_report_rewrite_and_embedded_samples(two_runs):
    run = two_runs["a"]
    page = (run / "report.html").read_text()
    assert not re.search(r"(src|href|action)=['\"]?(https?:|//)", page) and "<link" not in page
    blob = re.search(r"<script type='application/octet-stream' id='data-mmlu' data-name='mmlu'>([^<]+)</script>", page)
    data = json.loads(gzip.decompress(base64.b64decode(blob.group(1))))
    ids = [s["id"] for s in data["samples"]]
    assert ids.index("anatomy/2") < ids.index("anatomy/10")  # numeric order
    first = next(s for s in data["samples"] if s["id"] == "anatomy/0")
    prefix, _ = data["affixes"]["anatomy"]
    assert "A lesion causing compression of the facial nerve" in prefix + first["q"]
    assert first["q"].lstrip().startswith("A lesion") or "A lesion" in prefix  # the question stands alone
    before = json.loads((run / "report.json").read_text())
    (run / "report.html").unlink()
    proc = run_evalpack("report", str(run))
    assert proc.returncode == 0 and (run / "report.html").is_file()
    assert json.loads((run / "report.json").read_text())["meta"] == before["meta"]


def test_run_metadata(two_runs):
    meta = json.loads((two_runs["a"] / "report.json").read_text())["meta"]
    assert meta["served_models"] and meta["concurrency"] and meta["seed"] == 42 and meta["limit"] == 12
    assert meta["requests"]["requests"] == 36 and meta["requests"]["tokens_in"] > 0
    assert meta["requests"]["latency_p95"] >= meta["requests"]["latency_p50"] > 0
    assert len(meta["datasets"]["mmlu"]["files"]) == 6 and len(meta["datasets"]["mmlu"]["digest"]) == 64
    assert meta["command"].startswith("evalpack eval --model mock")


def test_secret_never_in_metadata():
    from evalpack.run_meta import redact_argv, redact_url

    from evalpack.run_meta import _secret_values

    args = {"tau_bench": {"extra_params": {"api_key": "user-key-123", "max_steps": 5}}}
    assert _secret_values(args) == ["user-key-123"]
    argv = ["evalpack", "eval", "--api-key", "sk-verysecret", "--api-url", "http://u:pw@h:1/v1?key=abc&x=1",
            "--dataset-args", json.dumps(args)]
    text = " ".join(redact_argv(argv, ["sk-verysecret", "user-key-123"]))
    assert "sk-verysecret" not in text and "pw" not in text and "abc" not in text and "x=1" in text
    assert "user-key-123" not in text and "max_steps" in text
    assert redact_url("https://h/v1?api_key=zz") == "https://h/v1?api_key=***"


# --- the statistics themselves ---

def test_clustered_se_is_millers_formula():
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    clusters = ["q1", "q1", "q2", "q2", "q3", "q3", "q4", "q4"]
    n, m = len(values), sum(values) / len(values)
    clt = m * (1 - m) / n
    cross = sum((values[i] - m) * (values[j] - m) for i in range(n) for j in range(n)
                if i != j and clusters[i] == clusters[j]) / n ** 2
    assert stats.clustered_se(values, clusters) == pytest.approx(math.sqrt(clt + cross))
    assert stats.clustered_se(values) == pytest.approx(math.sqrt(clt))
    graded = [0.2, 0.5, 0.9, 0.4]
    mg = sum(graded) / 4
    assert stats.clustered_se(graded) == pytest.approx(math.sqrt(sum((v - mg) ** 2 for v in graded) / 3 / 4))


def test_repeats_cluster_by_question():
    results = [Result(f"q{i}", "s", r, float((i + r) % 3 == 0)) for i in range(20) for r in range(3)]
    section = {"dataset": "x", **accuracy_report(results)}
    add_intervals(section, results, lambda rs: accuracy_report(rs))
    assert section["ci_method"] == "clt-clustered"
    assert section["stderr"] == pytest.approx(stats.clustered_se([r.score for r in results],
                                                                 [r.sample_id for r in results]))


def test_bootstrap_is_seeded_and_covers_non_means():
    """A metric no formula covers (a max over subsets) gets a deterministic bootstrap interval."""
    results = [Result(f"{s}/{i}", s, 0, float(i % (2 + k) == 0)) for k, s in enumerate("abc") for i in range(30)]

    def aggregate(rs):
        rep = accuracy_report(rs)
        rep["metrics"]["best_subset"] = max(x["score"] for x in rep["subsets"])
        return rep

    first, second = {"dataset": "x", **aggregate(results)}, {"dataset": "x", **aggregate(results)}
    add_intervals(first, results, aggregate)
    add_intervals(second, results, aggregate)
    iv = first["intervals"]["best_subset"]
    assert iv["ci_method"].startswith("bootstrap") and iv == second["intervals"]["best_subset"]
    assert iv["ci_low"] < first["metrics"]["best_subset"] <= iv["ci_high"]


def test_mcnemar_and_sign_flip():
    assert stats.mcnemar_exact(1, 9) == pytest.approx(0.021484375)
    assert stats.mcnemar_exact(5, 5) == 1.0 and stats.mcnemar_exact(0, 0) == 1.0
    # 3 positive differences of 0.5: 2 of the 8 sign patterns are as extreme
    assert stats.sign_flip_test([0.5, 0.5, 0.5, 0.0]) == pytest.approx(0.25)
    paired = stats.paired_difference([0.5, 0.2, 1.0], [0.7, 0.2, 1.0])
    assert paired["test"] == "sign-flip-permutation" and paired["difference"] == pytest.approx(0.2 / 3)


def test_wilson_interval():
    lo, hi = stats.wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)


def test_pass_hat_k_rows_count_tasks_not_trials():
    """The tau table once printed "pass^1 airline | OVERALL | Num 4" for 2 airline tasks."""
    from evalpack.benchmarks.tau_bench.benchmark import pass_hat_k_report
    from evalpack.report import rows

    results = [Result(f"{d}/{t}", d, r, float((t + r) % 2 == 0)) for d, tasks in (("airline", 2), ("retail", 3))
               for t in range(tasks) for r in range(2)]
    section = {"dataset": "tau_bench", **pass_hat_k_report(results, repeats=2)}
    add_intervals(section, results, lambda rs: pass_hat_k_report(rs, repeats=2))
    section.update(num_samples=10, num_errors=0, error_ids=[], num_unparsed=0)
    by_metric = {r["metric"]: r for r in rows({"model": "m", "datasets": [section]})}
    assert by_metric["pass^1 airline"]["num"] == 2 and by_metric["pass^2 retail"]["num"] == 3
    assert by_metric["pass^2"]["ci_method"] == "clt-over-tasks" and by_metric["pass^2"]["num"] == 5
    per_task = [0.0] * 5  # every task has one success in two trials: pass^2 = 0 for each
    assert section["metrics"]["pass^2"] == sum(per_task) / 5 and by_metric["pass^2"]["stderr"] == 0.0
