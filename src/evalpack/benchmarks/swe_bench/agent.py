"""Agentic mode: the model works inside the instance container with a shell tool.

The container is the instance image (repo at base_commit in /testbed, its environment
installed), started with `--network none`. The model calls `bash` as often as it likes,
up to `max_steps` model turns; it ends by answering without a tool call. Its work is then
`git diff` against base_commit (new files included), and that patch is scored exactly as
a patch written in oracle mode.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

from evalpack.docker_engine import docker, docker_cli
from evalpack.benchmarks.swe_bench.images import platform
from evalpack.benchmarks.tool_loop import run_tool_loop

SYSTEM = """\
You are fixing an issue in the repository checked out at /testbed, inside a Linux container \
with no internet access. Use the `bash` tool to read the code, edit files and run the tests. \
Do not modify the existing tests. When the issue is resolved, reply with a short summary and \
no tool call: your changes to /testbed are collected automatically as the patch."""

USER = """\
<issue>
{issue}
</issue>

The repository {repo} is at /testbed. Resolve the issue."""

BASH_TOOL = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a bash command in /testbed and return its output (stdout and stderr, "
                       "truncated to the last 10000 characters) and exit code.",
        "parameters": {"type": "object",
                       "properties": {"command": {"type": "string", "description": "the command to run"}},
                       "required": ["command"]},
    },
}
MAX_OUTPUT = 10_000


class AgentContainer:
    """One long-lived container of an instance image (no network)."""

    def __init__(self, image: str, arch: str) -> None:
        self.name = f"evalpack-agent-{uuid.uuid4().hex[:12]}"
        docker("run", "-d", "--pull", "never", "--network", "none", "--platform", platform(arch),
               "--name", self.name, image, "sleep", "infinity")

    def run(self, command: str, timeout: float) -> str:
        # the limit is enforced inside the container, so a runaway command dies there
        argv = [docker_cli(), "exec", "-w", "/testbed", self.name,
                "timeout", "-k", "5", str(int(timeout)), "bash", "-lc", command]
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout + 30)
        except subprocess.TimeoutExpired:
            return f"(the command did not finish within {timeout:.0f}s)"
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        if len(out) > MAX_OUTPUT:
            out = "(output truncated)\n" + out[-MAX_OUTPUT:]
        if proc.returncode in (124, 137):
            return f"{out}\n(the command did not finish within {timeout:.0f}s and was stopped)"
        return f"{out}\n(exit code {proc.returncode})"

    def diff(self) -> str:
        proc = subprocess.run([docker_cli(), "exec", "-w", "/testbed", self.name, "bash", "-c",
                               "git add -A >/dev/null 2>&1 && git diff --cached --no-color HEAD"],
                              capture_output=True, timeout=120)
        return proc.stdout.decode(errors="replace")

    def close(self) -> None:
        docker("rm", "-f", self.name, check=False)


def first_messages(repo: str, issue: str) -> list[dict]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(repo=repo, issue=issue.strip())}]


async def run_agent(messages: list[dict], ctx, image: str, arch: str, *, max_steps: int,
                    step_timeout: float) -> dict:
    """Drive the tool loop; returns the JSON-able output (`patch` is what gets scored)."""
    messages = [dict(m) for m in messages]
    box = await asyncio.to_thread(AgentContainer, image, arch)
    commands = 0

    async def chat(conversation: list[dict]):
        return await ctx.chat(conversation, tools=[BASH_TOOL])

    def answered(reply) -> None:
        messages.append(reply.message())  # the closing summary stays in the conversation
        return None

    async def execute(calls: list[dict]) -> list[str]:
        nonlocal commands
        results = []
        for call in calls:
            fn = call.get("function", {})
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except json.JSONDecodeError:
                args = None
            if fn.get("name") != "bash" or not isinstance(args, dict) or not isinstance(args.get("command"), str):
                results.append("error: call the `bash` tool with a JSON object {\"command\": \"...\"}")
            else:
                commands += 1
                results.append(await asyncio.to_thread(box.run, args["command"], step_timeout))
        return results

    def record(reply, calls: list[dict], results: list[str]) -> list[dict]:
        return [reply.message()] + [{"role": "tool", "tool_call_id": call.get("id", ""), "content": result}
                                    for call, result in zip(calls, results)]

    try:
        # every entry of tool_calls is answered, even one without a function (with the error text)
        result = await run_tool_loop(chat, messages, execute=execute, max_steps=max_steps,
                                     calls_of=lambda reply: list(reply.tool_calls or []),
                                     messages_of=record, answered=answered)
        steps, stopped = len(result.steps), result.end
        patch = await asyncio.to_thread(box.diff)
    finally:
        await asyncio.to_thread(box.close)
    return {"patch": patch, "steps": steps, "commands": commands, "stopped": stopped,
            "content": messages[-1].get("content") if messages[-1].get("role") == "assistant" else None}
