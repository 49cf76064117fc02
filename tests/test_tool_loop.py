"""The one tool-calling loop (evalpack.benchmarks.tool_loop): its contract, on scripted replies.
The benchmarks that use it (tau_bench, tau2_bench, BFCL multi-turn, the SWE agent) are tested
end to end in their own files."""

from __future__ import annotations

import asyncio
import json

from evalpack.benchmarks.tool_loop import read_calls, run_tool_loop
from evalpack.client import ChatReply


def _call(name: str, arguments, call_id: str = "c1") -> dict:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


def _script(*replies: ChatReply):
    """A chat that answers with `replies` in order and records what it was sent."""
    seen: list[list[dict]] = []
    queue = list(replies)

    async def chat(messages: list[dict]) -> ChatReply:
        seen.append([dict(m) for m in messages])
        return queue.pop(0)
    return chat, seen


def test_runs_calls_until_the_model_answers():
    chat, seen = _script(ChatReply(None, [_call("add", {"a": 1, "b": 2})]), ChatReply("it is 3"))
    messages = [{"role": "user", "content": "1+2?"}]
    result = asyncio.run(run_tool_loop(
        chat, messages, max_steps=5,
        execute=lambda calls: [str(c.arguments["a"] + c.arguments["b"]) for c in calls]))
    assert result.end == "answered" and len(result.steps) == 2 and result.last_reply.content == "it is 3"
    # the second request saw the call and its result; the answer itself is not appended
    assert seen[1][1]["tool_calls"][0]["function"]["name"] == "add"
    assert seen[1][2] == {"role": "tool", "tool_call_id": "c1", "content": "3"}
    assert len(messages) == 3


def test_step_limit_counts_model_calls():
    chat, seen = _script(*[ChatReply(None, [_call("noop", {})]) for _ in range(3)])
    result = asyncio.run(run_tool_loop(chat, [], max_steps=3, execute=lambda calls: ["ok"]))
    assert result.end == "step_limit" and len(seen) == 3 and all(s.results == ["ok"] for s in result.steps)


def test_answered_may_continue_and_after_may_stop():
    chat, _ = _script(ChatReply("hello"), ChatReply(None, [_call("transfer", {})]), ChatReply("never asked"))
    turns = []

    def answered(reply):
        turns.append(reply.content)
        return [reply.message(), {"role": "user", "content": "go on"}]

    def after(step):
        return "transferred" if step.calls and step.calls[0].name == "transfer" else None

    messages: list[dict] = []
    result = asyncio.run(run_tool_loop(chat, messages, max_steps=10, execute=lambda calls: ["done"],
                                       answered=answered, after=after))
    assert result.end == "transferred" and turns == ["hello"] and len(result.steps) == 2
    assert [m["role"] for m in messages] == ["assistant", "user", "assistant", "tool"]


def test_undecodable_calls_end_the_loop_or_reach_execute_with_their_error():
    def refuse(reply):
        raise ValueError("no call syntax")

    chat, _ = _script(ChatReply("[broken("))
    assert asyncio.run(run_tool_loop(chat, [], max_steps=3, calls_of=refuse, execute=list)).end == "unreadable"
    calls = read_calls(ChatReply(None, [_call("f", "{not json"), _call("g", "", "c2"), {"id": "x"}]))
    assert [c.name for c in calls] == ["f", "g"]  # an entry without a function is dropped
    assert calls[0].arguments is None and calls[0].error.startswith("arguments are not valid JSON")
    assert calls[1].arguments == {} and calls[1].error is None
