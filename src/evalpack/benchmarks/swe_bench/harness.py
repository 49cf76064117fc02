"""Run one instance's tests in its container, with no network and a time limit, and judge it.

The evaluation follows SWE-bench's: apply the model patch (`git apply`, then `patch
--fuzz=5` as a fallback), reset the test files and apply `test_patch`, run the spec's test
command on the test files the test_patch touches, parse the per-test statuses from the log,
and call the instance resolved iff every FAIL_TO_PASS test and every PASS_TO_PASS test passes.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import time
import uuid

from evalpack.docker_engine import docker, docker_cli
from evalpack.benchmarks.swe_bench.images import platform
from evalpack.benchmarks.swe_bench.specs import Spec, files_in_patch, select_tests

START, END = ">>>>> Start Test Output", ">>>>> End Test Output"
APPLY_FAILED, TEST_PATCH_FAILED, TIMED_OUT = ">>>>> Patch Apply Failed", ">>>>> Test Patch Apply Failed", ">>>>> Tests Timed Out"

PASSED, FAILED, SKIPPED, ERROR, XFAIL = "PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL"
_PASSING = {PASSED, XFAIL}

# Messages of a test that tried to reach the internet from a container that has only loopback.
NETWORK_ERRORS = re.compile(
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"No address associated with hostname|Failed to establish a new connection|getaddrinfo failed")

# Instances whose gold patch cannot pass offline: their tests fetch pages from the web.
# Found by running the gold patches with --network none (see docs/swe_bench.md).
NEEDS_NETWORK = {
    "sphinx-doc__sphinx-7985": "tests/test_build_linkcheck.py fetches external URLs",
    "sphinx-doc__sphinx-8269": "tests/test_build_linkcheck.py fetches external URLs",
    "sphinx-doc__sphinx-8475": "tests/test_build_linkcheck.py fetches external URLs",
    "sphinx-doc__sphinx-10435": "test_latex_images downloads an image from the web",
}


# --- log parsers --------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_pytest(log: str) -> dict[str, str]:
    """`pytest -rA` short summary lines: `STATUS name [- message]` (name = first word, as SWE-bench)."""
    statuses = {}
    for line in _ANSI.sub("", log).splitlines():
        word = line.split(" ", 1)[0]
        if word in (PASSED, FAILED, SKIPPED, ERROR, XFAIL, "XPASS"):
            parts = line.replace(" - ", " ").split()
            if len(parts) > 1:
                statuses[parts[1]] = FAILED if word == "XPASS" else word
    return statuses


def parse_django(log: str) -> dict[str, str]:
    """Django's runner at --verbosity 2: `name (module.Class) ... ok|skipped ...|FAIL|ERROR`.

    The name is whatever precedes " ... " (a docstring's first line when the test has one,
    which is how SWE-bench's FAIL_TO_PASS lists name such tests). A test whose output
    interrupts the line is completed by a later line starting with "ok".
    """
    statuses: dict[str, str] = {}
    previous = None
    for raw in _ANSI.sub("", log).splitlines():
        line = raw.strip()
        if " ... " in line:
            previous = line.split(" ... ", 1)[0]
        for suffix in (" ... ok", " ... OK", " ...  OK"):
            if line.endswith(suffix):
                statuses[line[: -len(suffix)]] = PASSED
                break
        if " ... skipped" in line:
            statuses[line.split(" ... skipped", 1)[0]] = SKIPPED
        if line.endswith(" ... expected failure"):
            statuses[line[: -len(" ... expected failure")]] = XFAIL
        if line.endswith(" ... FAIL"):
            statuses[line[: -len(" ... FAIL")]] = FAILED
        elif line.endswith(" ... ERROR"):
            statuses[line[: -len(" ... ERROR")]] = ERROR
        elif line.startswith(("FAIL:", "ERROR:")) and len(line.split()) > 1:
            name = line.split(":", 1)[1].strip()
            statuses[name] = FAILED if line.startswith("FAIL:") else ERROR
            statuses.setdefault(name.split(" (")[0], statuses[name])
        elif line.startswith("ok") and previous is not None and previous not in statuses:
            statuses[previous] = PASSED
    return statuses


PARSERS = {"pytest": parse_pytest, "django": parse_django}


def test_output(log: str) -> str:
    """The part of the log between the start/end markers (all of it after START if cut off)."""
    if START not in log:
        return ""
    return log.split(START, 1)[1].split(END, 1)[0]


# --- the eval script ------------------------------------------------------------------

def eval_script(spec: Spec, model_patch: str, test_patch: str, timeout: int) -> str:
    """The bash script run in the container (read from stdin, so patch size is unlimited)."""
    tests = select_tests(spec, test_patch)
    test_files = files_in_patch(test_patch)

    def put(path: str, text: str) -> str:
        return f"echo {base64.b64encode(text.encode()).decode()} | base64 -d > {path}"

    return "\n".join([
        "set -uo pipefail",
        "exec 2>&1",  # one stream: the markers and the runner's stderr stay in order
        "cd /testbed",
        *spec.eval_env,
        put("/tmp/model.patch", model_patch),
        put("/tmp/test.patch", test_patch),
        # the model's patch: strict first, then fuzzy as SWE-bench does
        "if [ -s /tmp/model.patch ]; then",
        "  git apply -v /tmp/model.patch || patch --batch --fuzz=5 -p1 -i /tmp/model.patch"
        f" || {{ echo '{APPLY_FAILED}'; exit 3; }}",
        "fi",
        # tests as of base_commit (a model may have edited them), then the official test patch
        f"for f in {' '.join(shlex.quote(f) for f in test_files)}; do"
        " git cat-file -e \"HEAD:$f\" 2>/dev/null && git checkout -q HEAD -- \"$f\" || rm -f \"$f\"; done",
        f"git apply -v /tmp/test.patch || {{ echo '{TEST_PATCH_FAILED}'; exit 4; }}",
        f"echo '{START}'",
        f"timeout -k 5 {int(timeout)} {spec.test_cmd} {' '.join(shlex.quote(t) for t in tests)}",
        "rc=$?",
        f"if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo '{TIMED_OUT}'; fi",
        f"echo '{END}'",
        "exit 0",
    ]) + "\n"


def run_in_container(image: str, script: str, *, arch: str, timeout: float) -> tuple[str, bool]:
    """Run `script` in a fresh container with no network; (log, killed_by_host_timeout)."""
    name = f"evalpack-eval-{uuid.uuid4().hex[:12]}"
    cmd = [docker_cli(), "run", "--rm", "-i", "--pull", "never", "--name", name, "--network", "none",
           "--platform", platform(arch), image, "bash", "-s"]
    try:
        proc = subprocess.run(cmd, input=script.encode(), capture_output=True, timeout=timeout)
        return (proc.stdout + proc.stderr).decode(errors="replace"), False
    except subprocess.TimeoutExpired as exc:
        docker("rm", "-f", name, check=False)
        out = (exc.stdout or b"") + (exc.stderr or b"")
        return out.decode(errors="replace"), True


def judge(instance: dict, statuses: dict[str, str]) -> dict:
    def as_list(value):
        return json.loads(value) if isinstance(value, str) else list(value or [])

    report = {}
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        tests = as_list(instance.get(key))
        passed = [t for t in tests if statuses.get(t) in _PASSING]
        report[key] = {"success": passed, "failure": [t for t in tests if t not in passed]}
    report["resolved"] = not report["FAIL_TO_PASS"]["failure"] and not report["PASS_TO_PASS"]["failure"]
    return report


def evaluate(instance: dict, model_patch: str, spec: Spec, image: str, *, arch: str,
             timeout: int = 1800) -> dict:
    """Evaluate one patch. Returns a JSON-able dict with `status` and `resolved` among others.

    status: resolved | unresolved | patch_failed | timed_out | needs_network | error
    """
    started = time.monotonic()
    script = eval_script(spec, model_patch, instance["test_patch"], timeout)
    log, killed = run_in_container(image, script, arch=arch, timeout=timeout + 120)
    result = {"image": image, "seconds": round(time.monotonic() - started, 1), "resolved": False}
    tail = log[-4000:]
    if APPLY_FAILED in log:
        return {**result, "status": "patch_failed", "reason": "the patch does not apply at base_commit",
                "log_tail": tail}
    if TEST_PATCH_FAILED in log:
        return {**result, "status": "error", "reason": "the test_patch did not apply", "log_tail": tail}
    if START not in log:
        return {**result, "status": "error", "reason": "the tests did not start", "log_tail": tail}
    output = test_output(log)
    statuses = PARSERS[spec.parser](output)
    report = judge(instance, statuses)
    result.update(report=report, tests_parsed=len(statuses), log_tail=tail)
    if report["resolved"]:
        return {**result, "status": "resolved", "resolved": True}
    if killed or TIMED_OUT in log:
        return {**result, "status": "timed_out", "reason": f"the tests ran past the {timeout}s limit"}
    known = NEEDS_NETWORK.get(instance["instance_id"])
    if known or NETWORK_ERRORS.search(output):
        return {**result, "status": "needs_network",
                "reason": known or "a failing test tried to reach the network (container has none)"}
    return {**result, "status": "unresolved"}
