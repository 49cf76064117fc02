"""A hostile OpenAI-compatible server for the reliability tests.

One server, many misbehaviours: the first path segment picks the mode, so
`http://127.0.0.1:PORT/<mode>/v1` is a base URL evalpack can be pointed at. Every
mode answers GET .../v1/models normally (unless the mode is about /models) and
misbehaves on POST .../v1/chat/completions. `/stats` counts requests per mode
and method, so tests check what reached the server instead of timing anything.

It runs on its own event loop in a thread (`BadServer().start()`), on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter

from aiohttp import web

ANSWER = "ANSWER: A"


def completion(content, **message) -> dict:
    return {"id": "chatcmpl-bad", "object": "chat.completion", "created": int(time.time()), "model": "mock",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def chunk(delta, finish=None) -> str:
    return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "mock",
                                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n"


BLOCK = b"x" * 2**20


class BadServer:
    async def endless(self, request, mode: str):
        status, kind = {"endless_body": (200, "application/json"), "endless_stream": (200, "text/event-stream"),
                        "endless_error": (500, "text/plain")}[mode]
        resp = web.StreamResponse(status=status, headers={"Content-Type": kind})
        await resp.prepare(request)
        if mode == "endless_stream":
            await resp.write(b'data: {"choices": [{"index": 0, "delta": {"content": "')
        try:
            while True:  # until the client hangs up
                await resp.write(BLOCK)
        except (ConnectionError, RuntimeError):
            pass
        return resp

    def __init__(self) -> None:
        self.stats: Counter = Counter()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    # --- lifecycle ---
    def start(self) -> "BadServer":
        threading.Thread(target=self._serve, daemon=True).start()
        if not self._ready.wait(20):
            raise RuntimeError("bad server did not start")
        return self

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/stats", self._stats)
        app.router.add_route("*", "/{mode}/v1/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        self._ready.set()
        loop.run_forever()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)

    def base(self, mode: str) -> str:
        return f"{self.url}/{mode}/v1"

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.stats))

    # --- the modes ---
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        mode, tail = request.match_info["mode"], request.match_info["tail"]
        self.stats[f"{mode} {request.method} {tail}"] += 1
        auth = request.headers.get("Authorization", "")
        if tail == "models":
            if mode == "models_404":
                return web.Response(status=404, text="404 page not found")
            return web.json_response({"object": "list", "data": [{"id": "mock", "object": "model"}]})
        body = await request.read()
        stream = b'"stream":true' in body.replace(b" ", b"")
        if mode.startswith("echo_auth_"):  # servers that quote the request back in their error page
            status = int(mode.rsplit("_", 1)[1])
            if status == 200:
                return web.Response(text=f"<html><body>Proxy says hello. You sent: Authorization: {auth}"
                                         f"</body></html>", content_type="text/html")
            return web.json_response({"error": {"message": f"bad request; headers were "
                                                           f"{{'Authorization': '{auth}'}}"}}, status=status)
        if mode == "echo_auth_content":  # a valid reply that carries the key in its text
            return web.json_response(completion(f"{ANSWER} (you are {auth})"))
        if mode == "truncated_stream":
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(chunk({"role": "assistant", "content": ANSWER[:6]}).encode())
            return resp  # closed before [DONE] and before any finish_reason
        if mode == "json_to_stream":
            return web.json_response(completion(ANSWER))
        if mode == "sse_as_json":  # SSE body labelled application/json
            text = chunk({"content": ANSWER}) + chunk({}, "stop") + "data: [DONE]\n\n"
            return web.Response(text=text, content_type="application/json")
        if mode == "choices_string":
            return web.json_response({"choices": "ANSWER: A"})
        if mode == "message_string":
            return web.json_response({"choices": [{"message": "ANSWER: A", "finish_reason": "stop"}]})
        if mode == "function_null":
            return web.json_response(completion(None, tool_calls=[{"id": "x", "type": "function", "function": None}]))
        if mode == "content_number":
            return web.json_response(completion(42))
        if mode == "not_json":
            return web.Response(text="<html>gateway says hi</html>", content_type="text/html")
        if mode == "error_200":
            return web.json_response({"error": {"message": "model overloaded"}})
        if mode == "chunk_list":
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b'data: [{"choices": []}]\n\n')
            await resp.write(b"data: [DONE]\n\n")
            return resp
        if mode.startswith("redirect_"):
            status = int(mode.rsplit("_", 1)[1])
            return web.Response(status=status, headers={"Location": self.base("ok") + "/chat/completions"})
        if mode == "hang":
            await asyncio.Event().wait()
        if mode.startswith("endless_"):  # a body that never ends, sent as fast as the client reads
            return await self.endless(request, mode)
        if request.method != "POST":  # where a followed 301/302 lands: a GET without the question
            return web.json_response(completion(ANSWER))
        if stream:
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write((chunk({"role": "assistant", "content": ANSWER}) + chunk({}, "stop")
                              + "data: [DONE]\n\n").encode())
            return resp
        return web.json_response(completion(ANSWER))
