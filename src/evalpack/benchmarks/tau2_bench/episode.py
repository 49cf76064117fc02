"""One tau2 episode: the evaluated model as agent, an LLM as the customer, one environment.

Upstream's orchestrator, message by message:
* the agent opens with "Hi! How can I help you today?"; the user answers first;
* a message with tool calls goes to the environment (every call runs, in order) and the
  results go back to whoever called; a text message goes to the other party;
* the user ends the episode with ###STOP###, ###TRANSFER### or ###OUT-OF-SCOPE### (the
  agent has no stop signal: transfer_to_human_agents is a tool like any other);
* each message and each batch of tool results is one step; at `max_steps` (100) or after
  `max_errors` (10) failed tool calls the episode ends, checked whenever the next message is
  not for the environment;
* an empty message, or tool arguments that are not a JSON object, end it as an agent
  (user) error: upstream's run crashes there and records reward 0.

Each side's turn is the shared tool loop; the trajectory kept is tau2's: every message in
order, tool calls as {id, name, arguments}, tool results with their requestor and error flag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from evalpack.benchmarks.tau2_bench.environment import Environment
from evalpack.benchmarks.tool_loop import read_calls, run_tool_loop

GREETING = "Hi! How can I help you today?"
STOP_TOKENS = ("###STOP###", "###TRANSFER###", "###OUT-OF-SCOPE###")
MAX_STEPS = 100
MAX_ERRORS = 10

AGENT_INSTRUCTION = """You are a customer service agent that helps the user according to the <policy> provided below.
In each turn you can either:
- Send a message to the user.
- Make a tool call.
You cannot do both at the same time.

Try to be helpful and always follow the policy. Always make sure you generate valid JSON only."""


def agent_system_prompt(policy: str) -> str:
    return f"<instructions>\n{AGENT_INSTRUCTION}\n</instructions>\n<policy>\n{policy}\n</policy>"


def has_text(content: Any) -> bool:
    """tau2's `has_text_content`: anything but None or a blank string."""
    if isinstance(content, str):
        return content.strip() != ""
    return content is not None


def is_stop(content: str | None) -> bool:
    return any(token in (content or "") for token in STOP_TOKENS)


def tau2_calls(reply: Any) -> list[dict]:
    """The reply's tool calls as tau2 keeps them; arguments must decode to a JSON object."""
    calls = read_calls(reply)
    for call in calls:
        if call.error or not isinstance(call.arguments, dict):
            raise ValueError(call.error or "tool arguments are not a JSON object")
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]


def wire(message: dict) -> dict:
    """A trajectory message in the OpenAI shape a server reads (arguments re-encoded as
    upstream does, with json.dumps)."""
    out: dict = {"role": message["role"], "content": message.get("content")}
    if message.get("tool_calls"):
        out["tool_calls"] = [{"id": c["id"], "type": "function",
                              "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                             for c in message["tool_calls"]]
    return out


@dataclass
class Episode:
    trajectory: list[dict] = field(default_factory=list)
    termination: str = ""  # user_stop | max_steps | too_many_errors | agent_error | user_error
    steps: int = 0
    errors: int = 0
    note: str = ""


class Orchestrator:
    def __init__(self, env: Environment, agent_chat, user_chat, *, max_steps: int = MAX_STEPS,
                 max_errors: int = MAX_ERRORS) -> None:
        self.env = env
        self.agent_chat = agent_chat  # async (messages) -> ChatReply, tools bound
        self.user_chat = user_chat
        self.max_steps = max_steps
        self.max_errors = max_errors
        self.episode = Episode()
        self._results: list[tuple[str, bool]] = []  # (content, error) of the batch being run

    # --- budget --------------------------------------------------------------------------
    def _over_budget(self) -> str | None:
        if self.episode.steps >= self.max_steps:
            return "max_steps"
        if self.episode.errors >= self.max_errors:
            return "too_many_errors"
        return None

    def _execute(self, requestor: str):
        def run(calls: list[dict]) -> list[str]:
            self.episode.steps += 1  # the message carrying the calls
            self._results = [self.env.get_response(c["name"], c["arguments"], requestor) for c in calls]
            self.episode.errors += sum(error for _, error in self._results)
            self.episode.steps += 1  # the batch of results
            return [content for content, _ in self._results]
        return run

    def _record(self, role: str):
        """Keep the call message and its results in the trajectory; return the caller's view of them."""
        def record(reply: Any, calls: list[dict], results: list[str]) -> list[dict]:
            self.episode.trajectory.append({"role": role, "content": reply.content, "tool_calls": calls})
            for call, (content, error) in zip(calls, self._results):
                self.episode.trajectory.append({"role": "tool", "id": call["id"], "content": content,
                                                "requestor": role, "error": error})
            return [wire({"role": "assistant", "content": reply.content, "tool_calls": calls})] + [
                {"role": "tool", "tool_call_id": c["id"], "content": r} for c, r in zip(calls, results)]
        return record

    async def _turn(self, chat, view: list[dict], role: str):
        """One side speaks until it says something to the other side; returns its text, or
        None when the episode ended during the turn."""
        result = await run_tool_loop(
            chat, view, execute=self._execute(role), calls_of=tau2_calls,
            messages_of=self._record(role), max_steps=10**9,  # tau2's budget is `after`'s (steps, errors)
            after=lambda step: self._over_budget())
        if result.end == "unreadable":
            self.episode.termination = "agent_error" if role == "assistant" else "user_error"
            self.episode.note = "tool arguments are not a JSON object"
            self.episode.trajectory.append({"role": role, "content": result.last_reply.content,
                                            "tool_calls": None, "unreadable": result.last_reply.tool_calls})
            return None
        if result.end != "answered":
            self.episode.termination = result.end
            return None
        text = result.last_reply.content
        self.episode.trajectory.append({"role": role, "content": text, "tool_calls": None})
        self.episode.steps += 1
        if not has_text(text):
            self.episode.termination = "agent_error" if role == "assistant" else "user_error"
            self.episode.note = f"{role} sent an empty message"
            return None
        view.append(wire({"role": "assistant", "content": text}))
        return text

    async def run(self, agent_view: list[dict], user_view: list[dict]) -> Episode:
        """`agent_view` starts with the system prompt, `user_view` with the simulator's."""
        self.episode.trajectory.append({"role": "assistant", "content": GREETING, "tool_calls": None})
        agent_view.append({"role": "assistant", "content": GREETING})
        user_view.append({"role": "user", "content": GREETING})
        while True:
            user_text = await self._turn(self.user_chat, user_view, "user")
            if user_text is None:
                break
            if is_stop(user_text):
                self.episode.termination = "user_stop"
                self._stopped_by_budget()  # upstream's budget check runs after a stop too, and wins
                break
            if self._stopped_by_budget():
                break
            agent_view.append({"role": "user", "content": user_text})
            agent_text = await self._turn(self.agent_chat, agent_view, "assistant")
            if agent_text is None or self._stopped_by_budget():
                break
            user_view.append({"role": "user", "content": agent_text})
        return self.episode

    def _stopped_by_budget(self) -> bool:
        reason = self._over_budget()
        if reason:
            self.episode.termination = reason
        return bool(reason)
