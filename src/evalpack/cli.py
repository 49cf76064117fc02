"""Command line: `evalpack eval | demo | mock | rescore | list ...`.

Imports of the heavy parts happen inside the command functions, and only the named command's
parser is built, so `evalpack list` loads argparse and the declarations, nothing of a run. Every EvalpackError becomes `evalpack: <sentence>` and its
exit code (listed in errors.py and the README); nothing the user can fix ends in a
traceback, and every line printed passes the secret scrubber.
"""

from __future__ import annotations

import argparse
import sys

from evalpack import __version__

EXAMPLES = """examples:
  evalpack demo                                   # no server, no datasets needed
  evalpack eval --model qwen2.5-72b --api-url http://127.0.0.1:8000/v1 \\
      --datasets mmlu ceval --dataset-dir ./datasets --limit 10 \\
      --generation-config '{"temperature": 0, "max_tokens": 2048}'
  evalpack eval --config run.yaml --limit 5       # YAML keys = the flags; flags override
  evalpack mock --port 18080 --model mock         # a canned OpenAI-compatible server
  evalpack rescore outputs/<run>                  # recompute scores, no server needed
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one sentence, exit 2 (argparse's own convention)
        self.exit(2, f"evalpack: {message}; see `{self.prog} --help`\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of `evalpack COMMAND` (None: of every command, for --help and mistakes).
    Only the command's own parser is built and its module imported: `evalpack list` stays fast."""
    from evalpack import subcommands

    parser = _Parser(prog="evalpack", description="Evaluate LLMs behind OpenAI-compatible APIs, offline.",
                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"evalpack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, add in PARSERS.items():
        if command in (None, name) or command not in PARSERS and command not in subcommands.REGISTRARS:
            add(sub)
    if command not in PARSERS:
        subcommands.register(sub, command if command in subcommands.REGISTRARS else None)
    return parser


def _command_of(argv: list[str]) -> str | None:
    """The command named on the command line (the first word; top-level options come alone)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def _eval_parser(sub) -> None:
    ev = sub.add_parser("eval", help="evaluate a model on benchmarks",
                        description="Evaluate a model served behind an OpenAI-compatible API. "
                                    "Flags are EvalScope's; --config takes the same keys as YAML.",
                        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_flags(ev)


def _demo_parser(sub) -> None:
    demo = sub.add_parser("demo", help="run the whole pipeline on a built-in mock server and sample")
    demo.add_argument("--work-dir", default=None, help="where the run directory goes (default ./outputs)")
    demo.add_argument("--quiet", action="store_true", default=None, help="no progress bars")


MOCK_DESCRIPTION = (
    "Serve GET /v1/models and POST /v1/chat/completions (plain and streaming), for smoke "
    "tests and for trying evalpack without a model. Every chat request gets the same reply, --answer "
    "(default 'ANSWER: A': a multiple-choice run then scores the share of questions whose answer is A, "
    "anything else scores 0), unless --responder or --rules decide the reply per request. "
    "(`evalpack demo` uses a different mock: a letter picked from a hash of each question.) "
    "GET /mock/stats counts the requests.")


def _mock_parser(sub) -> None:
    mock = sub.add_parser("mock", help="serve canned answers over the OpenAI API (for smoke tests)",
                          description=MOCK_DESCRIPTION)
    mock.add_argument("--port", type=int, default=18080, help="TCP port to listen on (default 18080)")
    mock.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    mock.add_argument("--model", default="mock", help="the model id it lists and answers as (default mock)")
    mock.add_argument("--answer", default="ANSWER: A", help="the reply to every chat request when no "
                      "--responder/--rules reply is given (default 'ANSWER: A')")
    mock.add_argument("--responder", help="FILE.py:FUNCTION called with each request body; returns the "
                      "reply text, or a dict with content, tool_calls, reasoning_content, status, delay")
    mock.add_argument("--rules", help="JSON/YAML file: a list of {match: REGEX, reply: ...}; the first "
                      "match on the last user message replies, else --answer")
    mock.add_argument("--api-key", help="require this bearer key (401 otherwise)")
    mock.add_argument("--latency", type=float, default=0.0, help="seconds to wait before each reply "
                      "(default 0)")


def _rescore_parser(sub) -> None:
    rescore = sub.add_parser("rescore", help="recompute the scores of a run from its stored replies")
    rescore.add_argument("run_dir", help="the run directory (with run.db)")
    rescore.add_argument("--quiet", action="store_true", help="do not print the time it took")


def _report_parser(sub) -> None:
    rep = sub.add_parser("report", help="rewrite report.md/report.html of a run from its store")
    rep.add_argument("run_dir", help="the run directory (with report.json)")


def _compare_parser(sub) -> None:
    cmp_ = sub.add_parser("compare", help="compare runs: paired differences, tests, flipped samples",
                          description="Align the samples of two or more runs by id and compare each run with "
                                      "the first: per dataset and subset the scores, the difference with its "
                                      "95%% interval, a paired test (McNemar exact for 0/1 scores), the flipped "
                                      "samples, and warnings when the runs' settings differ. Writes "
                                      "compare.json beside compare.html.")
    cmp_.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories; the first is the base")
    cmp_.add_argument("--out", help="the HTML page to write (default ./compare.html); compare.json goes beside it")


def _list_parser(sub) -> None:
    from evalpack.datasets.listing import add_list_flags

    add_list_flags(sub.add_parser(
        "list", help="list benchmarks and whether their data is present",
        description="Without NAME: every benchmark, its metric, subsets, records, size and the state of "
                    "its files in the dataset dir. With NAME: that benchmark in full (its --dataset-args, "
                    "subsets, files and the state of each)."))


PARSERS = {"eval": _eval_parser, "demo": _demo_parser, "mock": _mock_parser, "rescore": _rescore_parser,
           "report": _report_parser, "compare": _compare_parser, "list": _list_parser}


def add_eval_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML file with the same keys as the flags (model, datasets, ...)")
    p.add_argument("--model", help="model id as the server lists it in GET /v1/models")
    p.add_argument("--model-id", dest="model_id", help=argparse.SUPPRESS)
    p.add_argument("--api-url", nargs="+", help="OpenAI-compatible base URL(s); several = replicas")
    p.add_argument("--api-key", help="bearer key (or set EVALPACK_API_KEY); never written to disk")
    p.add_argument("--eval-type", help="openai_api (the only kind; accepted for EvalScope compatibility)")
    p.add_argument("--datasets", nargs="+", help="benchmarks to run, e.g. mmlu ceval (see `evalpack list`)")
    p.add_argument("--dataset-args", help="JSON: per-dataset options, e.g. "
                                          "'{\"mmlu\": {\"few_shot_num\": 0, \"subset_list\": [\"anatomy\"]}}'")
    p.add_argument("--dataset-dir", help="folder with <benchmark>/<files> (default $EVALPACK_DATA or "
                                         "~/.cache/evalpack/datasets); only ever read")
    p.add_argument("--dataset-hub", help="accepted for EvalScope compatibility; evalpack reads only local data")
    p.add_argument("--generation-config", help="JSON: request parameters (temperature, max_tokens, ...) "
                                               "and client ones (timeout, retries)")
    p.add_argument("--limit", help="N samples per subset (or a fraction below 1)")
    p.add_argument("--eval-batch-size", "--concurrency", dest="eval_batch_size",
                   help="requests in flight at once (default 32)")
    p.add_argument("--work-dir", help="where run directories go (default ./outputs)")
    p.add_argument("--use-cache", help="an earlier run directory to continue (replies stored there are reused)")
    p.add_argument("--seed", help="seed for shuffles and sampling (default 42)")
    p.add_argument("--stream", action="store_true", default=None, help="use streaming responses")
    p.add_argument("--timeout", help="per-request timeout in seconds (also in --generation-config)")
    p.add_argument("--fresh", action="store_true", default=None, help="start a new run directory instead of resuming")
    p.add_argument("--quiet", action="store_true", default=None, help="no progress bars")
    p.add_argument("--verbose", action="store_true", default=None,
                   help="print every subset's score at the end (always in report.md)")
    p.add_argument("--sandbox", choices=["local", "docker"], help="where model-written code runs "
                   "(code benchmarks): local = isolated process (default), docker = a container each")
    p.add_argument("--ignore-errors", action="store_true", default=None,
                   help="exit 0 even when some samples ended in an error (they stay recorded as errors)")
    p.add_argument("--skip-preflight", action="store_true", default=None,
                   help="do not check GET /v1/models before the run (for servers that only serve "
                        "/chat/completions)")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the samples on a Ray cluster (needs evalpack[ray]): ADDRESS of a running "
                        "one (`ray start --head`), or none to start Ray on this machine")
    p.add_argument("--shard", metavar="I/N", help="run only the I-th of N parts of the samples (1-based; e.g. "
                   "a Slurm array task); `evalpack merge` joins the parts into one run (docs/distributed.md)")
    judge = p.add_argument_group("LLM judge (EvalScope's flags; docs/judge.md)")
    judge.add_argument("--judge-model-args", help="JSON: {\"model_id\", \"api_url\", \"api_key\", "
                                                  "\"generation_config\"} of the judge (default: none)")
    judge.add_argument("--judge-model", help="the judge's model id (its model_id); served at --api-url unless "
                                             "--judge-api-url is given")
    judge.add_argument("--judge-api-url", help="the judge's OpenAI-compatible base URL")
    judge.add_argument("--judge-api-key", help="the judge's bearer key; never written to disk")
    judge.add_argument("--judge-strategy", choices=["auto", "rule", "llm", "llm_recall"],
                       help="auto (default): judge where a benchmark needs it; rule: never; llm: judge every "
                            "sample; llm_recall: the rule first, the judge when the rule says wrong")
    judge.add_argument("--judge-worker-num", help="judge requests in flight at once (default: --eval-batch-size)")


def cmd_eval(ns: argparse.Namespace) -> int:
    from evalpack.config import build_config
    from evalpack.runner import evaluate

    flags = {k: v for k, v in vars(ns).items() if k not in ("command", "config", "func", "verbose")}
    if ns.config:
        from evalpack import sweep
        if sweep.is_sweep(ns.config):  # several runs, then one compare
            return sweep.run(flags, ns.config, lambda r: print_result(r, bool(ns.verbose)), check_errors)
    config = build_config(flags, ns.config)
    result = evaluate(config)
    print_result(result, verbose=bool(ns.verbose))
    check_errors(result["report"], result["run_dir"], config.ignore_errors)
    return 0


def print_result(result: dict, verbose: bool = False) -> None:
    """One line per dataset (all subsets with --verbose), then the report's and the run's
    absolute paths; `run directory: PATH` stays the last line (scripts read it)."""
    from pathlib import Path

    from evalpack import report

    print(_scrub(result["markdown"] if verbose else report.summary(result["report"])))
    run_dir = Path(result["run_dir"]).resolve()
    print(f"report: {run_dir / 'report.html'}")
    print(f"run directory: {run_dir}")


def check_errors(report: dict, run_dir, ignore_errors: bool) -> None:
    """Errored samples make the exit code non-zero unless --ignore-errors (EvalScope's flag)."""
    from pathlib import Path

    from evalpack.errors import SamplesFailed

    failed = {s.get("dataset"): s.get("num_errors") or 0 for s in report.get("datasets") or []}
    total = sum(failed.values())
    unjudged = {s.get("dataset"): (s.get("judge") or {}).get("num_errors") or 0 for s in report.get("datasets") or []}
    if not total and sum(unjudged.values()) and not ignore_errors:
        where = ", ".join(f"{name} {n}" for name, n in unjudged.items() if n)
        raise SamplesFailed(f"{sum(unjudged.values())} samples have no verdict from the judge ({where}); they are "
                            f"not scored, and listed in report.md: run the same command again to retry failed "
                            f"judge calls, or pass --ignore-errors to accept them and exit 0")
    if total and not ignore_errors:
        where = ", ".join(f"{name} {n}" for name, n in failed.items() if n)
        raise SamplesFailed(f"{total} sample{'s' if total > 1 else ''} ended in an error ({where}); "
                            f"the errors are in {Path(run_dir).resolve()}/samples/*.jsonl: run the same command "
                            f"again to retry them, or pass --ignore-errors to accept them and exit 0")


def cmd_demo(ns: argparse.Namespace) -> int:
    from evalpack.demo import run_demo

    return run_demo(work_dir=ns.work_dir, quiet=bool(ns.quiet))


def cmd_mock(ns: argparse.Namespace) -> int:
    from evalpack import mock

    if ns.responder and ns.rules:
        from evalpack.errors import UsageError
        raise UsageError("give either --responder or --rules, not both")
    responder = mock.load_responder(ns.responder) if ns.responder else (
        mock.load_rules(ns.rules) if ns.rules else None)
    mock.serve(ns.port, ns.host, model=ns.model, answer=ns.answer, responder=responder,
               api_key=ns.api_key, latency=ns.latency)
    return 0


def cmd_rescore(ns: argparse.Namespace) -> int:
    import time

    from evalpack.runner import rescore

    started = time.perf_counter()
    result = rescore(ns.run_dir)
    print(result["markdown"])
    if not ns.quiet:
        print(f"rescored in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


def cmd_report(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from evalpack import report

    run_dir = Path(ns.run_dir)
    data = _load_report(run_dir)
    try:
        text = report.write(run_dir, data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise _damaged(run_dir, e) from None
    print(_scrub(text))
    print(f"report: {(run_dir / 'report.html').resolve()}")
    return 0


def _load_report(run_dir):
    from evalpack import report
    from evalpack.errors import UsageError

    try:
        data = report.load(run_dir)
    except (OSError, ValueError) as e:
        raise UsageError(f"{run_dir}/report.json cannot be read ({e}); run `evalpack rescore {run_dir}` "
                         f"to rebuild it from run.db") from None
    if not isinstance(data, dict) or not isinstance(data.get("datasets"), list):
        raise _damaged(run_dir, "no list of datasets")
    return data


def _damaged(run_dir, reason):
    from evalpack.errors import UsageError

    return UsageError(f"{run_dir}/report.json is damaged ({reason!r}); run `evalpack rescore {run_dir}` "
                      f"to rebuild it from run.db")


def cmd_compare(ns: argparse.Namespace) -> int:
    from pathlib import Path

    from evalpack import compare

    for d in ns.run_dirs:
        _load_report(Path(d))  # a missing or damaged report.json is one sentence naming its run
    try:
        result = compare.compare([Path(d) for d in ns.run_dirs])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise _damaged(" or ".join(ns.run_dirs), e) from None
    out = Path(ns.out or "compare.html").resolve()
    compare.write(result, out)
    print(_scrub(compare.terminal(result)), end="")
    print(f"compare: {out}")
    return 0


def cmd_list(ns: argparse.Namespace) -> int:
    from evalpack.datasets.listing import run_list

    return run_list(ns)


def _term_as_interrupt() -> None:
    """SIGTERM (a scheduler stopping the job) ends a run like Ctrl-C: stored replies are flushed.
    It must not depend on SIGINT: a job started as `cmd &` inherits SIGINT ignored."""
    import signal

    def on_term(signum, frame):
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)  # asyncio's: cancels the main task, then KeyboardInterrupt
        else:
            raise KeyboardInterrupt

    on_term.evalpack_interrupt = True  # runner._stoppable takes over SIGTERM while a run's loop runs
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, on_term)


def _scrub(text: str) -> str:
    from evalpack.scrub import scrub

    return scrub(text)


COMMANDS = {"eval": cmd_eval, "demo": cmd_demo, "mock": cmd_mock, "rescore": cmd_rescore, "list": cmd_list,
            "report": cmd_report, "compare": cmd_compare}


def main(argv: list[str] | None = None) -> int:
    from evalpack.errors import EvalpackError

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_of(argv))
    ns = parser.parse_args(argv)
    if not ns.command:
        parser.print_help()
        return 2
    handler = getattr(ns, "func", None) or COMMANDS[ns.command]
    _term_as_interrupt()
    try:
        return int(handler(ns) or 0)
    except EvalpackError as e:
        print(_scrub(f"evalpack: {e}"), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("evalpack: interrupted; stored replies are kept: run the same command again to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141
    except MemoryError:
        print("evalpack: out of memory; lower --eval-batch-size, --limit or repeats", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - a bug still ends in one sentence; the details go to a file
        import os
        import tempfile
        import traceback

        if os.environ.get("EVALPACK_TRACEBACK"):
            raise
        fd, path = tempfile.mkstemp(prefix="evalpack-crash-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(_scrub(traceback.format_exc()))
        print(_scrub(f"evalpack: internal error ({type(e).__name__}: {e}); this is a bug in evalpack, "
                     f"please report it with {path} (or set EVALPACK_TRACEBACK=1)"), file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
