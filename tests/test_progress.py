"""The progress line (progress.py): what it says, when it is printed to a log (every 10%) and to a
terminal (redrawn in place), what --quiet keeps, and the ETA arithmetic. Streams are StringIO;
the terminal is a StringIO that says it is a tty (no real terminal exists under pytest)."""

from __future__ import annotations

import io

from evalpack.progress import Progress, RunTotals, _clock


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_names_dataset_run_and_phase():
    stream = io.StringIO()
    run = RunTotals(total=30, already=10, datasets=3)
    progress = Progress("gsm8k", total=10, already=4, stream=stream, position=2, run=run)
    assert stream.getvalue() == "gsm8k [2/3]: resumed: 4 of 10 already answered\n"
    progress.update(1.0)
    progress.set_phase("scoring (math-verify)", pending=3)
    line = progress.line()
    assert line.startswith("gsm8k [2/3]: 5/10 ( 50%)") and "| run 11/30 eta " in line
    assert line.endswith("| score 1.000 errors 0 | scoring (math-verify) (3 pending)")
    assert "scoring (math-verify) (3 pending)" in stream.getvalue()  # a phase change is printed at once


def test_a_log_gets_one_line_per_tenth_and_a_last_one():
    stream = io.StringIO()
    progress = Progress("mmlu", total=40, stream=stream)
    for i in range(40):
        progress.update(1.0 if i % 2 else 0.0, error=(i == 7))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.split(": ", 1)[1].split(" (")[0] for line in lines] == [f"{n}/40" for n in range(4, 41, 4)]
    assert lines[-1].endswith("| score 0.487 errors 1 | requests")  # 19 of 39 scored right (7 erred)
    progress.close()
    assert len(stream.getvalue().splitlines()) == 10  # a second close adds nothing


def test_a_terminal_line_is_redrawn_in_place():
    term = Terminal()
    progress = Progress("ceval", total=3, stream=term)
    progress.update(1.0)  # drawn: the first draw is never throttled
    progress.close()
    out = term.getvalue()
    assert out.startswith("\rceval: 1/3 ( 33%)") and out.count("\x1b[K") == 2 and out.endswith("\n")
    assert "\n" not in out[:-1]  # one line, redrawn


def test_quiet_prints_nothing_but_the_resume_note():
    stream = io.StringIO()
    progress = Progress("bbh", total=5, already=2, quiet=True, stream=stream)
    for _ in range(3):
        progress.update(0.0)
    progress.set_phase("scoring (sandbox)", pending=1)
    progress.close()
    assert stream.getvalue() == "bbh: resumed: 2 of 5 already answered\n"


def test_rate_and_eta_count_only_this_runs_answers():
    progress = Progress("tau_bench", total=100, already=40, stream=io.StringIO())
    for _ in range(20):
        progress.update(1.0)
    line = progress.line(now=progress.start + 10.0)  # 20 new answers in 10 s: 2/s, 40 left
    assert "60/100 ( 60%)     2.0/s elapsed 00:10 eta 00:20" in line
    run = RunTotals(total=300, already=100, datasets=2)
    run.done = 150
    assert run.eta(run.start + 25.0) == 75.0  # 50 new in 25 s, 150 left
    assert RunTotals(total=10).eta(0.0) == 0.0  # nothing new yet: no estimate


def test_clock_format():
    assert [_clock(s) for s in (0, 59.9, 61, 3599, 3600, 3661, -5)] == [
        "00:00", "00:59", "01:01", "59:59", "1:00:00", "1:01:01", "00:00"]
