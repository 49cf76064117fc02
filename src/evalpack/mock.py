"""`evalpack mock`: an OpenAI-compatible server with canned answers, for smoke tests.

Serves GET /v1/models and POST /v1/chat/completions (plain and SSE streaming,
`tools` -> `tool_calls`). What it answers, in order of precedence:
  --responder FILE.py:func   a Python function (request body dict -> reply)
  --rules FILE.json|yaml     [{"match": "<regex on the last user message>", "reply": ...}, ...]
  --answer TEXT              the same reply to everything (default "ANSWER: A")
A reply is a string (the content) or a dict {"content", "reasoning_content", "tool_calls":
[{"name", "arguments"}], "finish_reason", "status", "delay"}; "status" >= 400 makes an
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
import time
import json
import re
import uuid
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from evalpack import openai_wire
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
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - the user's file: a syntax or import error is theirs to fix
        raise UsageError(f"--responder: {path} cannot be loaded ({type(e).__name__}: {e})") from None
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
    try:
        compiled = [(re.compile(str(r.get("match", ""))), r["reply"]) for r in rules]
    except re.error as e:
        raise UsageError(f"--rules {path}: a match is not a valid regular expression ({e})") from None

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
        # in_flight / max_in_flight: POSTs being answered now / at most at once (a client's concurrency)
        self.stats = {"requests": 0, "chat_requests": 0, "completion_requests": 0, "tokenize_requests": 0,
                      "models_requests": 0, "errors": 0, "in_flight": 0, "max_in_flight": 0}
        self._ids = itertools.count()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._count_in_flight])
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/tokenize", self.tokenize)
        app.router.add_get("/mock/stats", self.get_stats)
        app.router.add_post("/mock/reset", self.reset)
        return app

    async def models(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        self.stats["models_requests"] += 1
        if not openai_wire.bearer_ok(request, self.api_key):
            return openai_wire.unauthorized()
        return openai_wire.model_list(self.model, "evalpack-mock")

    @web.middleware
    async def _count_in_flight(self, request: web.Request, handler):
        if request.method != "POST" or request.path.startswith("/mock/"):
            return await handler(request)
        self.stats["in_flight"] += 1
        self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.stats["in_flight"])
        try:
            return await handler(request)
        finally:
            self.stats["in_flight"] -= 1

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats)

    async def reset(self, request: web.Request) -> web.Response:
        for k in self.stats:
            if k != "in_flight":  # requests still being answered are still in flight
                self.stats[k] = 0
        return web.json_response(self.stats)

    async def _ask(self, request: web.Request, counter: str, field: str, kind: type):
        """(body, the responder's reply) of one request, or the error response to send."""
        self.stats["requests"] += 1
        self.stats[counter] += 1
        if not openai_wire.bearer_ok(request, self.api_key):
            return None, openai_wire.unauthorized()
        try:
            body = await request.json(loads=json.loads)
            if not isinstance(body, dict) or not isinstance(body.get(field), kind):
                raise ValueError(f"{field} must be a {'list' if kind is list else 'string'}")
        except ValueError as e:
            return None, openai_wire.error_response(400, f"invalid request: {e}", code=400)
        try:
            reply = self.responder(body) if self.responder else None
            if asyncio.iscoroutine(reply):
                reply = await reply
        except Exception as e:  # noqa: BLE001 - a responder bug is answered as a server error
            self.stats["errors"] += 1
            return None, openai_wire.error_response(500, f"the mock's responder failed: {type(e).__name__}: {e}",
                                                    "server_error", code=500)
        return body, reply

    async def completions(self, request: web.Request) -> web.Response:
        body, reply = await self._ask(request, "completion_requests", "prompt", str)
        if body is None:
            return reply
        if reply is None:
            return openai_wire.error_response(404, "this mock serves no /v1/completions", "not_found_error",
                                              code=404)
        if isinstance(reply, str):
            reply = {"content": reply}
        if int(reply.get("status", 200)) >= 400:
            self.stats["errors"] += 1
            return openai_wire.error_response(int(reply["status"]), reply.get("content") or "mock error",
                                              code=int(reply["status"]))
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
            return openai_wire.error_response(404, "this mock serves no /tokenize", "not_found_error", code=404)
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
            return openai_wire.error_response(int(reply["status"]), reply.get("content") or "mock error",
                                              "server_error", code=int(reply["status"]), headers=headers)
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
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reply.get("reasoning_content"):  # a reasoning model's thoughts, apart from the content
            message["reasoning_content"] = reply["reasoning_content"]
            thought = _tokens(reply["reasoning_content"])
            usage["completion_tokens"] += thought
            usage["total_tokens"] += thought
            usage["completion_tokens_details"] = {"reasoning_tokens": thought}
        if tool_calls:
            message["tool_calls"] = tool_calls
        if body.get("stream"):
            return await openai_wire.stream(request, rid, model, message, finish, usage,
                                            bool((body.get("stream_options") or {}).get("include_usage")))
        return openai_wire.completion(rid, model, message, finish, usage)


def _tool_call(tc: dict, index: int) -> dict:
    if "function" in tc:  # already in OpenAI shape
        fn = dict(tc["function"])
    else:
        fn = {"name": tc["name"], "arguments": tc.get("arguments", {})}
    if not isinstance(fn.get("arguments"), str):
        fn["arguments"] = json.dumps(fn.get("arguments") or {}, ensure_ascii=False)
    return {"id": tc.get("id") or f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": fn}


# handlers written before openai_wire existed answer errors through this name
_error = openai_wire.error_response


def serve(port: int, host: str = "127.0.0.1", **kwargs) -> None:
    import socket

    server = MockServer(**kwargs)
    try:  # bind first: a port in use is a sentence, not a traceback from inside run_app
        sock = socket.create_server((host, port))
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port} ({e.strerror or e}); choose another --port/--host") from None
    ready = f"evalpack mock: serving model {server.model!r} at http://{host}:{port}/v1"
    # handle_signals: SIGTERM and SIGINT stop it cleanly, even when SIGINT was inherited ignored.
    # run_app calls print once its loop and those handlers exist, so a signal sent as soon as the
    # line appears never lands in the middle of building the event loop.
    web.run_app(server.app(), sock=sock, print=lambda _banner: print(ready, flush=True), access_log=None,
                handle_signals=True)


async def start_in_process(server: MockServer, host: str = "127.0.0.1", port: int = 0):
    """Start on the running loop (used by `evalpack demo`); returns (runner, url)."""
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sock = site._server.sockets[0]  # the port the OS picked when port=0
    return runner, f"http://{host}:{sock.getsockname()[1]}/v1"
