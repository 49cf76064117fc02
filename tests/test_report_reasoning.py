"""report.html shows a reasoning model's thoughts folded, apart from the answer, in a real
headless Chromium (as tests/test_report_browser.py drives it): inline <think> blocks and
reasoning_content alike, folded until clicked, never inside the answer, and markup in them
shown as text, never run."""

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import MockProcess, run_dir_of, run_evalpack

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (CI installs it)")
CHROMIUM = os.environ.get("EVALPACK_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="needs the system chromium (apt-get install chromium)")

RESPONDER = Path(__file__).parent / "responders" / "reasoning_report.py"


@pytest.fixture(scope="module")
def run(tmp_path_factory, datasets_dir) -> Path:
    server = MockProcess("--responder", f"{RESPONDER}:respond")
    try:
        proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                            "--dataset-dir", str(datasets_dir), "--limit", "6", "--quiet", "--eval-batch-size", "1",
                            "--work-dir", str(tmp_path_factory.mktemp("reasoning")),
                            "--dataset-args", json.dumps({"mmlu": {"subset_list": ["anatomy"], "few_shot_num": 0}}))
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    return run_dir_of(proc)


def _by_style(run: Path) -> dict[str, dict]:
    out = {}
    for line in (run / "samples" / "mmlu.jsonl").read_text().splitlines():
        rec = json.loads(line)
        text = (rec["output"].get("content") or "") + (rec["output"].get("reasoning") or "")
        style = next(s for s in ("INLINE", "FIELD", "CUT") if f"THOUGHT-{s}" in text)
        out.setdefault(style, rec)
    assert set(out) == {"INLINE", "FIELD", "CUT"}
    return out


def test_reasoning_is_folded_apart_from_the_answer(run, tmp_path):
    samples = _by_style(run)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((run / "report.html").as_uri())
        for style, answer in (("INLINE", "ANSWER: B"), ("FIELD", "ANSWER: C"), ("CUT", None)):
            sid = samples[style]["sample_id"]
            page.evaluate(f"location.hash = '#samples?ds=mmlu&s=' + encodeURIComponent({json.dumps(sid)} + ':0')")
            detail = page.wait_for_selector(f"#detail .sample[data-id='{sid}']")
            fold = detail.query_selector("details.reasoning")
            assert fold is not None, style
            assert fold.get_attribute("open") is None  # folded by default
            thought = fold.query_selector("pre.reasoning")
            assert not thought.is_visible()
            fold.query_selector("summary").click()
            page.wait_for_function("d => d.open", arg=fold)
            assert thought.is_visible()
            text = thought.inner_text()
            assert f"THOUGHT-{style}" in text and "<script>window.__pwned = 1</script>" in text  # shown as text
            assert "<think>" not in text and "</think>" not in text
            shown = detail.query_selector("pre.answer").inner_text()
            if answer is None:  # the reply ended inside its thinking: no answer, the decoy not in its place
                assert "no answer" in shown and "ANSWER: D" not in shown
            else:
                assert shown.strip() == answer and "THOUGHT" not in shown
            row = page.locator(f"#browser tr.sample-row[data-id='{sid}'] td").last.inner_text()
            assert "THOUGHT" not in row and "ANSWER: D" not in row
        page.screenshot(path=str(tmp_path / "reasoning.png"))
        assert page.evaluate("window.__pwned") is None and page.locator("#detail img").count() == 0
        assert errors == []
        browser.close()
