"""The simulated customer: an LLM that is given the task's instruction and plays the user.

Its system prompt is upstream tau-bench's default ("llm") user strategy, reproduced word
for word because it is part of the benchmark's protocol: the simulated user's behaviour
decides what the agent hears. The simulator sees the agent's replies as `user` turns and
its own lines as `assistant` turns, and ends the episode by writing `###STOP###`.
"""

from __future__ import annotations

from typing import Any

STOP_TOKEN = "###STOP###"
# the agent's greeting that opens every conversation (the agent itself never sees it)
OPENING_LINE = "Hi! How can I help you today?"


def user_system_prompt(instruction: str) -> str:
    return f"""You are a user interacting with an agent.

Instruction: {instruction}

Rules:
- Just generate one line at a time to simulate the user's message.
- Do not give away all the instruction at once. Only provide the information that is necessary for the current step.
- Do not hallucinate information that is not provided in the instruction. For example, if the agent asks for the order id but it is not mentioned in the instruction, do not make up an order id, just say you do not remember or have it.
- If the instruction goal is satisified, generate '{STOP_TOKEN}' as a standalone message without anything else to end the conversation.
- Do not repeat the exact instruction in the conversation. Instead, use your own words to convey the same information.
- Try to make the conversation as natural as possible, and stick to the personalities in the instruction."""


class SimulatedUser:
    """Keeps the simulator's own side of the conversation; `ctx` is the user model's context."""

    def __init__(self, ctx: Any, instruction: str, params: dict | None = None) -> None:
        self.ctx = ctx
        self.params = dict(params or {})
        self.messages: list[dict] = [
            {"role": "system", "content": user_system_prompt(instruction)},
            {"role": "user", "content": OPENING_LINE},
        ]

    async def _next_line(self) -> str:
        reply = await self.ctx.chat(self.messages, **self.params)
        text = reply.content or ""
        self.messages.append({"role": "assistant", "content": text})
        return text

    async def start(self) -> str:
        """The customer's first message."""
        return await self._next_line()

    async def respond(self, agent_text: str) -> str:
        self.messages.append({"role": "user", "content": agent_text})
        return await self._next_line()


def is_stop(user_text: str) -> bool:
    return STOP_TOKEN in (user_text or "")
