"""A model server whose timing is scripted, to check what `evalpack perf` measures.

    python -m evalpack.perf.scripted --port 18090 --ttft 0.2 --itl 0.02 --output-tokens 32 \\
        --jitter 0.3 --fail 500@7,timeout@11

Every streamed reply sends a role-only delta at once (as vLLM does; it is not a token), then
the first token after `ttft` seconds and one token every `itl` seconds, each gap scaled by a
seeded uniform factor in [1 - jitter, 1 + jitter]. One token = one word, and the prompt counts
one token per whitespace-separated word of every message, so token counts are exact.

The server writes down when it really received each request and sent each token
(`time.perf_counter()`, the system-wide monotonic clock on Linux, the same one the client
reads): on a loaded machine a sleep overshoots, so the truth a test compares with is what
the server did, not what was scripted. GET /scripted/log returns those records.

`--fail KIND@N,...`: request number i (1-based) fails with the first KIND whose N divides i:
an HTTP status (`500`, `429`), `timeout` (the reply never comes), `drop` (the connection is
closed after the first token) or `malformed` (a chunk that is not JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from aiohttp import web

FAIL_KINDS = ("timeout", "drop", "malformed")


def parse_failures(spec: str | None) -> list[tuple[str, int]]:
    out = []
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        kind, _, every = part.strip().partition("@")
        if not every.isdigit() or int(every) < 1 or not (kind.isdigit() or kind in FAIL_KINDS):
            raise ValueError(f"--fail {part!r}: expected KIND@N with KIND a status or one of {FAIL_KINDS}")
        out.append((kind, int(every)))
    return out


def count_words(messages: list) -> int:
    total = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        total += len(str(content or "").split())
    return total


class ScriptedServer:
    def __init__(self, *, ttft: float = 0.0, itl: float = 0.0, output_tokens: int | None = None,
                 jitter: float = 0.0, seed: int = 0, failures: list[tuple[str, int]] | None = None,
                 model: str = "scripted", usage: bool = True, template_tokens: int = 0,
                 slots: int | None = None, close_after_stream: bool = False) -> None:
        self.ttft, self.itl, self.output_tokens = ttft, itl, output_tokens
        self.jitter, self.model, self.usage = jitter, model, usage
        self.template_tokens = template_tokens
        self.close_after_stream = close_after_stream  # as llama-server does, with no Connection: close
        self.failures = failures or []
        self.rng = random.Random(seed)
        # like llama.cpp's --parallel: requests beyond `slots` wait their turn (TTFT includes the wait)
        self.slots = asyncio.Semaphore(slots) if slots else None
        self.count = 0
        self.log: list[dict] = []

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/scripted/log", self.get_log)
        app.router.add_post("/scripted/reset", self.reset)
        return app

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def get_log(self, request: web.Request) -> web.Response:
        return web.json_response(self.log)

    async def reset(self, request: web.Request) -> web.Response:
        self.log, self.count = [], 0
        return web.json_response({})

    def _factor(self) -> float:
        return 1.0 + self.rng.uniform(-self.jitter, self.jitter) if self.jitter else 1.0

    def _failure(self, number: int) -> str | None:
        for kind, every in self.failures:
            if number % every == 0:
                return kind
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        if self.slots is None:
            return await self._chat(request, time.perf_counter())
        received = time.perf_counter()
        async with self.slots:
            return await self._chat(request, received)

    async def _chat(self, request: web.Request, received: float) -> web.StreamResponse:
        self.count += 1
        number = self.count
        body = await request.json()
        messages = body.get("messages") or []
        n_out = self.output_tokens or int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        entry = {"n": number, "received": received, "started": time.perf_counter(), "sent": [], "done": None,
                 "stream": bool(body.get("stream")), "messages": len(messages),
                 "last_user": next((str(m.get("content"))[:200] for m in reversed(messages)
                                    if isinstance(m, dict) and m.get("role") == "user"), None),
                 "prompt_tokens": count_words(messages) + self.template_tokens, "completion_tokens": n_out,
                 "failure": self._failure(number)}
        self.log.append(entry)
        # the whole timing script is drawn up front, so it does not depend on scheduling
        gaps = [self.ttft * self._factor()] + [self.itl * self._factor() for _ in range(n_out - 1)]
        failure = entry["failure"]
        if failure and failure.isdigit():
            entry["done"] = time.perf_counter()
            return web.json_response({"error": {"message": f"scripted {failure}", "code": int(failure)}},
                                     status=int(failure))
        if failure == "timeout":
            await asyncio.sleep(3600)
        usage = {"prompt_tokens": entry["prompt_tokens"], "completion_tokens": n_out,
                 "total_tokens": entry["prompt_tokens"] + n_out}
        if not body.get("stream"):
            await asyncio.sleep(sum(gaps))
            entry["sent"] = [time.perf_counter()]
            entry["done"] = entry["sent"][0]
            return web.json_response({
                "id": f"scripted-{number}", "object": "chat.completion", "model": self.model,
                "choices": [{"index": 0, "finish_reason": "length",
                             "message": {"role": "assistant", "content": " ".join(["tok"] * n_out)}}],
                "usage": usage})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        head = '{"id":"scripted-%d","object":"chat.completion.chunk","model":"%s","choices":[' % (number, self.model)
        token = f"data: {head}{{\"index\":0,\"delta\":{{\"content\":\" tok\"}},\"finish_reason\":null}}]}}\n\n".encode()
        await resp.write(f"data: {head}{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\"}},"
                         f"\"finish_reason\":null}}]}}\n\n".encode())
        tail = f"data: {head}{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"length\"}}]}}\n\n"
        if self.usage and (body.get("stream_options") or {}).get("include_usage"):
            tail += f"data: {head}],\"usage\":{json.dumps(usage)}}}\n\n"
        tail += "data: [DONE]\n\n"
        if not any(gaps):  # instant: one write, as fast as this server can go
            entry["sent"] = [time.perf_counter()] * n_out
            await resp.write(token * n_out + tail.encode())
        else:
            due = entry["started"]
            for i, gap in enumerate(gaps):
                due += gap
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                entry["sent"].append(time.perf_counter())
                await resp.write(token)
                if i == 0 and failure == "drop":
                    request.transport.close()
                    entry["done"] = time.perf_counter()
                    return resp
                if i == 0 and failure == "malformed":
                    await resp.write(b"data: {not json\n\n")
            await resp.write(tail.encode())
        entry["done"] = time.perf_counter()
        await resp.write_eof()
        if self.close_after_stream:
            request.transport.close()
        return resp


async def start(server: ScriptedServer, host: str = "127.0.0.1", port: int = 0):
    """Start on the running loop; returns (runner, base_url)."""
    # handler_cancellation: a client that gives up (a timeout) ends the hanging handler
    runner = web.AppRunner(server.app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, f"http://{host}:{site._server.sockets[0].getsockname()[1]}/v1"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m evalpack.perf.scripted", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--model", default="scripted")
    ap.add_argument("--ttft", type=float, default=0.0, help="seconds to the first token")
    ap.add_argument("--itl", type=float, default=0.0, help="seconds between tokens")
    ap.add_argument("--output-tokens", type=int, help="tokens per reply (default: the request's max_tokens)")
    ap.add_argument("--jitter", type=float, default=0.0, help="each gap x uniform(1-J, 1+J)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--template-tokens", type=int, default=0, help="added to every prompt's count")
    ap.add_argument("--slots", type=int, help="requests served at once; the rest queue")
    ap.add_argument("--close-after-stream", action="store_true",
                    help="close the connection after each streamed reply (without saying so)")
    ap.add_argument("--no-usage", action="store_true", help="never send a usage chunk")
    ap.add_argument("--fail", help="KIND@N,...: see above")
    ns = ap.parse_args(argv)
    try:
        failures = parse_failures(ns.fail)
    except ValueError as e:
        ap.error(str(e))
    server = ScriptedServer(ttft=ns.ttft, itl=ns.itl, output_tokens=ns.output_tokens, jitter=ns.jitter,
                            seed=ns.seed, failures=failures, model=ns.model, usage=not ns.no_usage,
                            template_tokens=ns.template_tokens, slots=ns.slots,
                            close_after_stream=ns.close_after_stream)
    ready = f"scripted server: http://{ns.host}:{ns.port}/v1"
    # printed by run_app once it listens: a client that waits for the line never sees a refused connection
    web.run_app(server.app(), host=ns.host, port=ns.port, print=lambda _banner: print(ready, flush=True),
                access_log=None,
                handler_cancellation=True, shutdown_timeout=1.0)


if __name__ == "__main__":
    main()
