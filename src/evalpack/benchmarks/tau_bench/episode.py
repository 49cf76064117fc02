"""One tau-bench episode: the evaluated model as agent, an LLM as customer.

The loop is upstream's tool-calling agent: the agent sees the policy as system prompt
and the customer's first line; each agent turn either calls a tool (only the first
call of a turn is executed, and the turn is kept with that one call) whose result comes
back as a `tool` message, or speaks to the customer, whose answer comes back as a
`user` message. The episode ends when the customer writes ###STOP###, when the agent
calls a terminating tool (transfer_to_human_agents), or after `max_steps` agent turns.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from evalpack.benchmarks.tau_bench.env import Environment
from evalpack.benchmarks.tau_bench.toolbox import TERMINATING_TOOLS
from evalpack.benchmarks.tau_bench.user_sim import SimulatedUser, is_stop
from evalpack.benchmarks.tool_loop import Call, read_calls, run_tool_loop

RESPOND = "respond"  # upstream's name for "the agent talks to the customer"


@dataclass
class Episode:
    messages: list[dict] = field(default_factory=list)  # the agent's conversation, in full
    actions: list[dict] = field(default_factory=list)  # {"name", "kwargs"}, RESPOND included
    end_reason: str = "max_steps"  # "user_stop" | "transfer" | "max_steps"
    steps: int = 0
    final_hash: str = ""

    @property
    def done(self) -> bool:
        return self.end_reason != "max_steps"

    def agent_replies(self) -> list[str]:
        return [a["kwargs"].get("content") or "" for a in self.actions if a["name"] == RESPOND]


async def run_episode(*, env: Environment, agent: Any, user: SimulatedUser, policy: str,
                      tools: list[dict], max_steps: int, agent_params: dict | None = None) -> Episode:
    episode = Episode()
    first_line = await user.start()
    episode.messages = [{"role": "system", "content": policy},
                        {"role": "user", "content": first_line}]
    step_ids: list[str] = []  # one call id per agent turn that called a tool

    async def chat(messages: list[dict]):
        return await agent.chat(messages, tools=tools, **(agent_params or {}))

    def first_call(reply) -> list[Call]:
        # upstream runs only the first call of a turn; the turn is kept with that one call
        calls = read_calls(reply)[:1]
        step = len(step_ids) + sum(1 for a in episode.actions if a["name"] == RESPOND)
        for call in calls:
            step_ids.append(call.raw.get("id") or f"call_{step}")
        return calls

    def execute(calls: list[Call]) -> list[str]:
        call = calls[0]
        if call.error:
            # upstream would crash the episode on unparsable arguments; the agent is told instead
            observation = f"Error: {call.error}"
        else:
            observation = env.call(call.name, call.arguments)
        episode.actions.append({"name": call.name, "kwargs": call.arguments})
        return [observation]

    def record(reply, calls: list[Call], results: list[str]) -> list[dict]:
        call, call_id = calls[0], step_ids[-1]
        message = dict(reply.message())
        message["tool_calls"] = [{**call.raw, "id": call_id}]
        return [message, {"role": "tool", "tool_call_id": call_id, "name": call.name, "content": results[0]}]

    async def answered(reply) -> list[dict]:
        text = reply.content or ""
        message = dict(reply.message())
        message.pop("tool_calls", None)
        episode.actions.append({"name": RESPOND, "kwargs": {"content": text}})
        return [message, {"role": "user", "content": await user.respond(text)}]

    def after(step) -> str | None:
        if step.calls:
            return "transfer" if step.calls[0].name in TERMINATING_TOOLS else None
        return "user_stop" if is_stop(episode.messages[-1]["content"]) else None

    result = await run_tool_loop(chat, episode.messages, execute=execute, max_steps=max_steps,
                                 calls_of=first_call, messages_of=record, answered=answered, after=after)
    episode.steps = len(result.steps)
    episode.end_reason = "max_steps" if result.end == "step_limit" else result.end
    # hashing the whole database takes ~0.1 s; keep it off the event loop
    episode.final_hash = await asyncio.to_thread(env.hash)
    return episode
