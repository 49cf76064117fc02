"""report.html shows what was asked and answered; compare puts runs side by side."""

import json

from conftest import run_dir_of, run_evalpack


def _run(server, datasets_dir, work, *extra):
    proc = run_evalpack("eval", "--model", "mock", "--api-url", server.url, "--datasets", "mmlu",
                        "--dataset-dir", str(datasets_dir), "--work-dir", str(work), "--quiet", "--limit", "3",
                        "--dataset-args", '{"mmlu": {"subset_list": ["anatomy", "virology"]}}', *extra)
    assert proc.returncode == 0, proc.stderr
    return run_dir_of(proc)


def test_html_report_and_compare(mock_server, datasets_dir, tmp_path):
    a = _run(mock_server("--answer", "ANSWER: A"), datasets_dir, tmp_path / "a")
    b = _run(mock_server("--answer", "The answer is (B)."), datasets_dir, tmp_path / "b")
    page = (a / "report.html").read_text()
    assert "A lesion causing compression of the facial nerve" in page  # the prompt
    assert "ANSWER: A" in page and "anatomy/0" in page
    assert page.count("<details><summary>") >= 6

    proc = run_evalpack("compare", str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    ra = json.loads((a / "report.json").read_text())["datasets"][0]
    rb = json.loads((b / "report.json").read_text())["datasets"][0]
    overall = next(line for line in proc.stdout.splitlines() if "| mmlu | accuracy | OVERALL |" in line)
    assert f"{ra['score']:.4f}" in overall and f"{rb['score']:.4f}" in overall
    assert f"{rb['score'] - ra['score']:+.4f}" in overall

    (a / "report.html").unlink()
    proc = run_evalpack("report", str(a))
    assert proc.returncode == 0 and (a / "report.html").is_file()

    bad = run_evalpack("compare", str(tmp_path / "nope"))
    assert bad.returncode == 2 and "no report.json" in bad.stderr
