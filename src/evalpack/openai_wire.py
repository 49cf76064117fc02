"""The OpenAI wire format spoken by evalpack's own servers (`evalpack mock`, `evalpack adapter`).

One place for what both must get exactly right: the model list, the error envelope,
the bearer-key check, the completion object and its server-sent-events form (chunks,
the usage chunk, `[DONE]`). The client side (reading replies) is client.py's.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any, Callable

from aiohttp import web


def model_list(model: str, owned_by: str, created: int = 0) -> web.Response:
    return web.json_response({"object": "list", "data": [
        {"id": model, "object": "model", "created": created, "owned_by": owned_by}]})


def error_response(status: int, message: str, type_: str = "invalid_request_error", code: Any = None,
                   param: str | None = None, headers: dict | None = None) -> web.Response:
    """{"error": {message, type, param, code}} with its HTTP status, as OpenAI answers."""
    return web.json_response({"error": {"message": message, "type": type_, "param": param, "code": code}},
                             status=status, headers=headers)


def bearer_ok(request: web.Request, api_key: str | None) -> bool:
    """True when no key is required or the request carries `Authorization: Bearer <key>`
    (compared in constant time)."""
    if not api_key:
        return True
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {api_key}".encode())


def unauthorized() -> web.Response:
    return error_response(401, "Incorrect API key provided.", "authentication_error", "invalid_api_key")


def completion(rid: str, model: str, message: dict, finish: str | None, usage: dict,
               created: int | None = None) -> web.Response:
    return web.json_response({
        "id": rid, "object": "chat.completion", "created": int(time.time()) if created is None else created,
        "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage})


def thirds(text: str) -> list[str]:
    """A text in a few pieces, so that clients really have to join deltas."""
    step = max(1, len(text) // 3)
    return [text[i:i + step] for i in range(0, len(text), step)]


async def stream(request: web.Request, rid: str, model: str, message: dict, finish: str | None, usage: dict,
                 include_usage: bool, pieces: Callable[[str], list[str]] = thirds,
                 created: int | None = None) -> web.StreamResponse:
    """The reply as server-sent events: role, reasoning and content deltas, each tool call in two
    deltas (name and half the arguments, then the rest), the finish chunk, usage, [DONE]."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    created = int(time.time()) if created is None else created

    async def send(delta: dict | None, finish_reason: str | None = None, usage_value: dict | None = None) -> None:
        chunk: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                                 "choices": [] if delta is None else
                                 [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]}
        if usage_value is not None:
            chunk["usage"] = usage_value
        await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

    await send({"role": "assistant", "content": ""})
    for key in ("reasoning_content", "content"):
        for piece in pieces(message.get(key) or "") if message.get(key) else []:
            await send({key: piece})
    for index, call in enumerate(message.get("tool_calls") or []):
        args = call["function"]["arguments"]
        half = len(args) // 2
        await send({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                    "function": {"name": call["function"]["name"], "arguments": args[:half]}}]})
        await send({"tool_calls": [{"index": index, "function": {"arguments": args[half:]}}]})
    await send({}, finish)
    if include_usage:
        await send(None, usage_value=usage)
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response
