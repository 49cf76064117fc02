"""The one tool-calling loop: ask the model, run the tools it called, hand the results back,
and again, until it answers without a tool call, the step budget is spent, or the caller's
rule ends it.

Every agentic benchmark drives its model through this loop (tau_bench, tau2_bench, BFCL
multi-turn, the SWE-bench agent). What differs between them is passed in:

* `chat(messages)`: one model call (the benchmark closes over `ctx.chat`, its tools, params);
* `calls_of(reply)`: the calls to run. Default: the reply's OpenAI `tool_calls`, read by
  `read_calls`. Raising ValueError ends the loop as "unreadable" (BFCL's decoder does);
* `execute(calls)`: runs them, returns one result text per call (may be async);
* `messages_of(reply, calls, results)`: what goes into the conversation for this step
  (default: the assistant message as sent, then one `tool` message per call);
* `answered(reply)`: what happens when the model answers without a call: None ends the
  loop as "answered"; a list of messages is appended and the loop goes on (tau_bench's
  simulated customer answers there);
* `after(step)`: a stop rule checked after each step; a returned string ends the loop with
  that reason (a terminating tool, an error budget).

`max_steps` counts model calls: the loop never makes more, and ends as "step_limit" when
the last one allowed still called tools.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable


@dataclass
class Call:
    """One tool call as the model sent it, with its arguments read."""

    id: str
    name: str
    arguments: Any  # the decoded JSON (usually an object); None when `error` is set
    raw: dict  # the OpenAI-shaped call as received
    error: str | None = None  # why the arguments could not be decoded


def parse_arguments(raw: Any) -> Any:
    """Tool-call arguments as sent: a JSON string (usually), an object, or nothing."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, str):
        return json.loads(raw)
    return raw


def read_calls(reply: Any) -> list[Call]:
    """The reply's `tool_calls` (entries without a function are dropped)."""
    calls = []
    for index, raw in enumerate(reply.tool_calls or []):
        function = raw.get("function") if isinstance(raw, dict) else None
        if not function:
            continue
        try:
            arguments, error = parse_arguments(function.get("arguments")), None
        except ValueError as e:
            arguments, error = None, f"arguments are not valid JSON: {e}"
        calls.append(Call(id=raw.get("id") or f"call_{index}", name=function.get("name") or "",
                          arguments=arguments, raw=raw, error=error))
    return calls


def tool_messages(reply: Any, calls: list[Call], results: list[str]) -> list[dict]:
    """The assistant message as sent, then one `tool` message per call."""
    return [reply.message()] + [{"role": "tool", "tool_call_id": call.raw.get("id", ""), "content": result}
                                for call, result in zip(calls, results)]


@dataclass
class Step:
    reply: Any  # the ChatReply
    calls: list = field(default_factory=list)  # what calls_of returned
    results: list[str] = field(default_factory=list)


@dataclass
class LoopResult:
    steps: list[Step]
    end: str  # "answered" | "step_limit" | "unreadable" | a reason returned by `after`

    @property
    def last_reply(self) -> Any:
        return self.steps[-1].reply if self.steps else None


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def run_tool_loop(
    chat: Callable[[list[dict]], Awaitable[Any]],
    messages: list[dict],
    *,
    execute: Callable[[list], Any],
    max_steps: int,
    calls_of: Callable[[Any], list] = read_calls,
    messages_of: Callable[[Any, list, list[str]], list[dict]] = tool_messages,
    answered: Callable[[Any], Any] | None = None,
    after: Callable[[Step], Any] | None = None,
) -> LoopResult:
    """Drive the loop on `messages` (extended in place) and say how it ended."""
    steps: list[Step] = []
    while len(steps) < max_steps:
        step = Step(reply=await chat(messages))
        steps.append(step)
        try:
            step.calls = calls_of(step.reply)
        except ValueError:
            return LoopResult(steps, "unreadable")
        if not step.calls:
            more = await _maybe(answered(step.reply)) if answered else None
            if more is None:
                return LoopResult(steps, "answered")
            messages.extend(more)
        else:
            step.results = list(await _maybe(execute(step.calls)))
            messages.extend(messages_of(step.reply, step.calls, step.results))
        reason = await _maybe(after(step)) if after else None
        if reason:
            return LoopResult(steps, reason)
    return LoopResult(steps, "step_limit")
