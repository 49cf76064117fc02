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
import json
from dataclasses import dataclass, field
from typing import Any

from evalpack.benchmarks.tau_bench.env import Environment
from evalpack.benchmarks.tau_bench.toolbox import TERMINATING_TOOLS
from evalpack.benchmarks.tau_bench.user_sim import SimulatedUser, is_stop

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


def parse_arguments(raw: Any) -> Any:
    """Tool-call arguments as the model sent them: a JSON string (usually) or an object."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, str):
        return json.loads(raw)
    return raw


async def run_episode(*, env: Environment, agent: Any, user: SimulatedUser, policy: str,
                      tools: list[dict], max_steps: int, agent_params: dict | None = None) -> Episode:
    episode = Episode()
    first_line = await user.start()
    episode.messages = [{"role": "system", "content": policy},
                        {"role": "user", "content": first_line}]
    for step in range(max_steps):
        episode.steps = step + 1
        reply = await agent.chat(episode.messages, tools=tools, **(agent_params or {}))
        message = dict(reply.message())
        calls = [c for c in (reply.tool_calls or []) if c.get("function")]
        if calls:
            call = calls[0]
            name = call["function"].get("name") or ""
            call_id = call.get("id") or f"call_{step}"
            message["tool_calls"] = [{**call, "id": call_id}]
            try:
                arguments = parse_arguments(call["function"].get("arguments"))
            except ValueError as e:
                # upstream would crash the episode on unparsable arguments; the agent is told instead
                arguments, observation = None, f"Error: arguments are not valid JSON: {e}"
            else:
                observation = env.call(name, arguments)
            episode.actions.append({"name": name, "kwargs": arguments})
            episode.messages += [message, {"role": "tool", "tool_call_id": call_id, "name": name,
                                           "content": observation}]
            if name in TERMINATING_TOOLS:
                episode.end_reason = "transfer"
                break
        else:
            text = reply.content or ""
            message.pop("tool_calls", None)
            episode.actions.append({"name": RESPOND, "kwargs": {"content": text}})
            answer = await user.respond(text)
            episode.messages += [message, {"role": "user", "content": answer}]
            if is_stop(answer):
                episode.end_reason = "user_stop"
                break
    # hashing the whole database takes ~0.1 s; keep it off the event loop
    episode.final_hash = await asyncio.to_thread(env.hash)
    return episode
