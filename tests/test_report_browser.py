"""report.html and compare.html in a real headless Chromium (Debian's `chromium`, driven by
Playwright with executable_path: no browser download). Load, filter, search, open a sample,
follow a score's link; no console error, no request that is not file:, no injected markup."""

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import MockProcess, run_dir_of, run_evalpack

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (CI installs it)")
CHROMIUM = os.environ.get("EVALPACK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="needs the system chromium (apt-get install chromium)")

RESPONDER = str(Path(__file__).parent / "responders" / "varied.py")


def _eval(server, datasets_dir, work):
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(work), "--quiet", "--limit", "12",
                        "--dataset-args", json.dumps({"mmlu": {"subset_list": ["anatomy", "virology", "astronomy"]}}))
    assert proc.returncode == 0, proc.stderr
    return run_dir_of(proc)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, datasets_dir):
    work = tmp_path_factory.mktemp("browser")
    servers = [MockProcess("--responder", f"{RESPONDER}:model_a"), MockProcess("--responder", f"{RESPONDER}:model_b")]
    try:
        a, b = (_eval(s, datasets_dir, work / name) for s, name in zip(servers, "ab"))
    finally:
        for s in servers:
            s.stop()
    out = work / "compare.html"
    assert run_evalpack("compare", str(a), str(b), "--out", str(out)).returncode == 0
    return a, b, out


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {"errors": [], "requests": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(path.as_uri())
    return page, seen


def _samples(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "samples" / "mmlu.jsonl").read_text().splitlines()]


def test_report_viewer(runs, browser, tmp_path):
    run = runs[0]
    report = json.loads((run / "report.json").read_text())["datasets"][0]
    rows = _samples(run)
    page, seen = _open(browser, run / "report.html")
    page.wait_for_selector("#browser table.list tr.sample-row")
    page.screenshot(path=str(tmp_path / "overview.png"))

    # the numbers are in the DOM as text and data attributes
    overall = page.locator("tr.row-overall[data-dataset='mmlu']").first
    assert float(overall.get_attribute("data-score")) == pytest.approx(report["score"], abs=1e-6)
    assert float(overall.get_attribute("data-ci-low")) == pytest.approx(report["ci_low"], abs=1e-6)
    assert f"{report['score']:.4f}" in overall.inner_text()

    ids = page.locator("#browser tr.sample-row").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert len(ids) == 36 and ids.index("anatomy/2") < ids.index("anatomy/10")

    page.click("#f-st-wrong")
    page.wait_for_selector("#f-st-wrong.on")
    wrong = sum(1 for r in rows if r["status"] == "wrong")
    assert int(page.get_attribute("#match-count", "data-matches")) == wrong
    statuses = page.locator("#browser tr.sample-row").evaluate_all("rs => rs.map(r => r.dataset.status)")
    assert set(statuses) == {"wrong"}

    page.click("#f-st-all")
    page.fill("#f-search", "dished face")
    page.wait_for_function("document.querySelector('#match-count').dataset.query === 'dished face'")
    assert page.get_attribute("#match-count", "data-matches") == "1"
    page.click("#browser tr.sample-row")
    sample = page.wait_for_selector("#detail .sample")
    text = sample.inner_text()
    assert "dished face" in text and "EXTRACTED" in text.upper() and "GOLD" in text.upper()
    page.locator("#detail").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "sample.png"))

    # a reply full of markup is shown as text, never run
    page.fill("#f-search", "cannot tell")
    page.wait_for_function("document.querySelector('#match-count').dataset.query === 'cannot tell'")
    hostile = page.locator("#browser tr.sample-row").first
    sid = hostile.get_attribute("data-id")
    hostile.click()
    detail = page.wait_for_selector(f"#detail .sample[data-id='{sid}']")
    assert "<script>window.__pwned" in detail.inner_text()
    assert page.evaluate("window.__pwned") is None and page.locator("#detail img").count() == 0

    # a subset's score links to its samples
    page.click("tr.row-subset[data-subset='virology'] a.to-samples")
    page.wait_for_function("document.querySelector('#match-count').dataset.subset === 'virology'")
    assert page.get_attribute("#match-count", "data-matches") == "12"
    page.click("tr.row-group[data-subset='category: Other'] a.to-samples")  # anatomy + virology
    page.wait_for_function("document.querySelector('#match-count').dataset.group === 'category:Other'")
    assert page.get_attribute("#match-count", "data-matches") == "24"

    assert seen["errors"] == []
    assert [u for u in seen["requests"] if not u.startswith("file:")] == []
    page.close()


def test_compare_page_flips_side_by_side(runs, browser):
    a, b, out = runs
    result = json.loads(out.with_suffix(".json").read_text())
    (d,) = result["comparisons"][0]["datasets"]
    page, seen = _open(browser, out)
    row = page.locator("tr[data-dataset='mmlu'][data-subset='OVERALL']")
    assert float(row.get_attribute("data-p-value")) == pytest.approx(d["p_value"], abs=1e-9)
    assert int(row.get_attribute("data-gained")) == d["gained"] and int(row.get_attribute("data-lost")) == d["lost"]
    page.wait_for_selector("#flips tr.sample-row")
    assert int(page.get_attribute("#match-count", "data-matches")) == d["gained"] + d["lost"]
    page.click("#f-dir-lost")
    page.wait_for_selector("#f-dir-lost.on")
    assert int(page.get_attribute("#match-count", "data-matches")) == d["lost"]
    first = page.locator("#flips tr.sample-row").first
    sid = first.get_attribute("data-id")
    first.click()
    pair = page.wait_for_selector("#detail.pair")
    cards = pair.query_selector_all(".sample")
    assert len(cards) == 2 and [c.get_attribute("data-status") for c in cards] == ["correct", "wrong"]
    assert all(c.get_attribute("data-id") == sid for c in cards)
    assert seen["errors"] == [] and [u for u in seen["requests"] if not u.startswith("file:")] == []
    page.close()


def test_judge_errors_are_counted_apart_from_model_errors(browser, datasets_dir, tmp_path):
    """SimpleQA judged by tests/responders/judge.py, whose unreadable verdicts are known: the
    report counts those samples as judge errors, not model errors, and its link lists exactly them."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "responders"))
    import judge as plan

    judge_errors = plan.expected(list(range(60)))["judge_errors"]
    model, judge = MockProcess("--answer", "I believe it is Paris."), MockProcess(
        "--responder", f"{Path(__file__).parent / 'responders' / 'judge.py'}:respond", model="judge")
    try:
        proc = run_evalpack("eval", "--model", "mock", "--api-url", model.url, "--datasets", "simpleqa",
                            "--dataset-dir", str(datasets_dir), "--limit", "60", "--work-dir", str(tmp_path),
                            "--quiet", "--ignore-errors", "--judge-model", "judge", "--judge-api-url", judge.url)
    finally:
        model.stop()
        judge.stop()
    assert proc.returncode == 0, proc.stderr
    run = run_dir_of(proc)
    statuses = [json.loads(x)["status"] for x in (run / "samples" / "simpleqa.jsonl").read_text().splitlines()]
    assert statuses.count("judge_error") == len(judge_errors) > 0 and "error" not in statuses

    page, seen = _open(browser, run / "report.html")
    counts = page.locator("section.dataset[data-dataset='simpleqa'] p.counts")
    assert counts.locator("[data-count='errors']").inner_text() == "0 errors"
    link = counts.locator("[data-count='judge-errors']")
    assert link.inner_text() == f"{len(judge_errors)} judge errors"
    link.click()
    page.wait_for_selector("#f-st-judge_error.on")
    assert int(page.get_attribute("#match-count", "data-matches")) == len(judge_errors)
    ids = page.locator("#browser tr.sample-row").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert sorted(ids) == sorted(judge_errors)
    assert page.locator("#f-st-error").inner_text() == "error 0"
    assert seen["errors"] == []
    page.close()
