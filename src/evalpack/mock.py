"""`evalpack mock`: an OpenAI-compatible server with canned answers, for smoke tests.

Serves GET /v1/models and POST /v1/chat/completions (plain and SSE streaming,
`tools` -> `tool_calls`). What it answers, in order of precedence:
  --responder FILE.py:func   a Python function (request body dict -> reply)
  --rules FILE.json|yaml     [{"match": "<regex on the last user message>", "reply": ...}, ...]
  --answer TEXT              the same reply to everything (default "ANSWER: A")
A reply is a string (the content) or a dict {"content", "tool_calls": [{"name",
"arguments"}], "finish_reason", "status", "delay"}; "status" >= 400 makes an
error response, "delay" sleeps first. GET /mock/stats counts requests, so tests
can check what reached the server. POST /v1/completions (a raw `prompt`) is answered
by the responder alone, whose dict may carry the choice's "logprobs"; without a
responder, or when it returns None, it is a 404, as on a chat-only server; so is
llama.cpp's POST /tokenize ({"content"} -> the responder's {"tokens": [ids]}).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from evalpack.errors import UsageError


def load_responder(spec: str) -> Callable[[dict], Any]:
    path, _, func = spec.rpartition(":")
    if not path or not func:
        raise UsageError(f"--responder {spec!r}: expected FILE.py:FUNCTION")
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--responder: no such file {path}")
    module_spec = importlib.util.spec_from_file_location(f"evalpack_responder_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not callable(getattr(module, func, None)):
        raise UsageError(f"--responder: {path} has no function {func!r}")
    return getattr(module, func)


def load_rules(path: str) -> Callable[[dict], Any]:
    import yaml

    try:
        rules = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise UsageError(f"--rules {path}: cannot read it ({e})") from None
    if not isinstance(rules, list) or not all(isinstance(r, dict) and "reply" in r for r in rules):
        raise UsageError(f"--rules {path}: expected a list of {{match: REGEX, reply: ...}} entries")
    compiled = [(re.compile(str(r.get("match", ""))), r["reply"]) for r in rules]

    def respond(body: dict) -> Any:
        text = last_user_text(body)
        for pattern, reply in compiled:
            if pattern.search(text):
                return reply
        return None

    return respond


def last_user_text(body: dict) -> str:
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content or ""
    return ""


def _tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


class MockServer:
    def __init__(self, model: str = "mock", answer: str = "ANSWER: A",
                 responder: Callable[[dict], Any] | None = None, api_key: str | None = None,
                 latency: float = 0.0) -> None:
        self.model, self.answer, self.responder = model, answer, responder
        self.api_key, self.latency = api_key, latency
        self.stats = {"requests": 0, "chat_requests": 0, "completion_requests": 0, "tokenize_requests": 0,
                      "models_requests": 0, "errors": 0}
        self._ids = itertools.count()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/tokenize", self.tokenize)
        app.router.add_get("/mock/stats", self.get_stats)
        app.router.add_post("/mock/reset", self.reset)
        return app

    def _authorized(self, request: web.Request) -> bool:
        return not self.api_key or request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def models(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        self.stats["models_requests"] += 1
        if not self._authorized(request):
            return _error(401, "invalid API key", "invalid_request_error")
        return web.json_response({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 0, "owned_by": "evalpack-mock"}]})

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats)

    async def reset(self, request: web.Request) -> web.Response:
        for k in self.stats:
            self.stats[k] = 0
        return web.json_response(self.stats)

    async def _ask(self, request: web.Request, counter: str, field: str, kind: type):
        """(body, the responder's reply) of one request, or the error response to send."""
        self.stats["requests"] += 1
        self.stats[counter] += 1
        if not self._authorized(request):
            return None, _error(401, "invalid API key", "invalid_request_error")
        try:
            body = await request.json(loads=json.loads)
            if not isinstance(body.get(field), kind):
                raise ValueError(f"{field} must be a {'list' if kind is list else 'string'}")
        except ValueError as e:
            return None, _error(400, f"invalid request: {e}", "invalid_request_error")
        reply = self.responder(body) if self.responder else None
        if asyncio.iscoroutine(reply):
            reply = await reply
        return body, reply

    async def completions(self, request: web.Request) -> web.Response:
        body, reply = await self._ask(request, "completion_requests", "prompt", str)
        if body is None:
            return reply
        if reply is None:
            return _error(404, "this mock serves no /v1/completions", "not_found_error")
        if isinstance(reply, str):
            reply = {"content": reply}
        if int(reply.get("status", 200)) >= 400:
            self.stats["errors"] += 1
            return _error(int(reply["status"]), reply.get("content") or "mock error", "invalid_request_error")
        text = reply.get("content") or ""
        usage = {"prompt_tokens": _tokens(body["prompt"]), "completion_tokens": _tokens(text),
                 "total_tokens": _tokens(body["prompt"]) + _tokens(text)}
        return web.json_response({
            "id": f"cmpl-mock-{next(self._ids)}", "object": "text_completion", "created": int(time.time()),
            "model": body.get("model") or self.model, "usage": usage,
            "choices": [{"index": 0, "text": text, "logprobs": reply.get("logprobs"),
                         "finish_reason": reply.get("finish_reason") or "stop"}]})

    async def tokenize(self, request: web.Request) -> web.Response:
        body, reply = await self._ask(request, "tokenize_requests", "content", str)
        if body is None:
            return reply
        if not isinstance(reply, dict) or "tokens" not in reply:
            return _error(404, "this mock serves no /tokenize", "not_found_error")
        return web.json_response({"tokens": reply["tokens"]})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body, reply = await self._ask(request, "chat_requests", "messages", list)
        if body is None:
            return reply
        if reply is None:
            reply = self.answer
        if isinstance(reply, str):
            reply = {"content": reply}
        delay = float(reply.get("delay", 0) or 0) + self.latency
        if delay:
            await asyncio.sleep(delay)
        if int(reply.get("status", 200)) >= 400:
            self.stats["errors"] += 1
            headers = {"Retry-After": str(reply["retry_after"])} if "retry_after" in reply else None
            return _error(int(reply["status"]), reply.get("content") or "mock error", "server_error",
                          headers=headers)
        tool_calls = [_tool_call(tc, i) for i, tc in enumerate(reply.get("tool_calls") or [])] or None
        content = reply.get("content")
        if tool_calls is None and content is None:
            content = ""
        finish = reply.get("finish_reason") or ("tool_calls" if tool_calls else "stop")
        prompt_tokens = sum(_tokens(json.dumps(m.get("content"))) for m in body["messages"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": _tokens(content or ""),
                 "total_tokens": prompt_tokens + _tokens(content or "")}
        rid = f"chatcmpl-mock-{next(self._ids)}"
        model = body.get("model") or self.model
        if body.get("stream"):
            return await self._stream(request, rid, model, content, tool_calls, finish, usage,
                                      bool((body.get("stream_options") or {}).get("include_usage")))
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return web.json_response({
            "id": rid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})

    async def _stream(self, request, rid, model, content, tool_calls, finish, usage, include_usage):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        created = int(time.time())

        async def send(delta: dict, finish_reason=None, extra=None):
            chunk = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
            if extra:
                chunk.update(extra)
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        if content:
            # a few pieces, so that clients really have to join deltas
            step = max(1, len(content) // 3)
            for i in range(0, len(content), step):
                await send({"content": content[i:i + step]})
        for i, tc in enumerate(tool_calls or []):
            args = tc["function"]["arguments"]
            half = len(args) // 2
            await send({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                                        "function": {"name": tc["function"]["name"], "arguments": args[:half]}}]})
            await send({"tool_calls": [{"index": i, "function": {"arguments": args[half:]}}]})
        await send({}, finish)
        if include_usage:
            chunk = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [], "usage": usage}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def _tool_call(tc: dict, index: int) -> dict:
    if "function" in tc:  # already in OpenAI shape
        fn = dict(tc["function"])
    else:
        fn = {"name": tc["name"], "arguments": tc.get("arguments", {})}
    if not isinstance(fn.get("arguments"), str):
        fn["arguments"] = json.dumps(fn.get("arguments") or {}, ensure_ascii=False)
    return {"id": tc.get("id") or f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": fn}


def _error(status: int, message: str, kind: str, headers: dict | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "code": status}},
                             status=status, headers=headers)


def serve(port: int, host: str = "127.0.0.1", **kwargs) -> None:
    server = MockServer(**kwargs)
    print(f"evalpack mock: serving model {server.model!r} at http://{host}:{port}/v1", flush=True)
    web.run_app(server.app(), host=host, port=port, print=None, access_log=None,
                handle_signals=True)


async def start_in_process(server: MockServer, host: str = "127.0.0.1", port: int = 0):
    """Start on the running loop (used by `evalpack demo`); returns (runner, url)."""
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sock = site._server.sockets[0]  # the port the OS picked when port=0
    return runner, f"http://{host}:{sock.getsockname()[1]}/v1"
