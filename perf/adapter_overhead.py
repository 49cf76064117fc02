"""What does the adapter add per request?

Usage: python perf/adapter_overhead.py [--requests 2000] [--concurrency 32]

Starts a trivial prompt->text backend and the adapter (`python -m evalpack.adapter`),
both as subprocesses on 127.0.0.1, then sends the same chat requests (a 3-turn
conversation, one tool in half of them) through the adapter, and the equivalent
prompt requests straight to the backend. Prints throughput and latency percentiles
for both; the difference is the adapter's cost (templating, tool emulation and
parsing, one extra HTTP hop).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from support import free_port

SRC = Path(__file__).resolve().parents[1] / "src"
REPLY_TEXT = 'I will check. {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}'


def serve_backend(port: int) -> None:
    from aiohttp import web

    async def generate(request):
        body = await request.json()
        return web.json_response({"text": REPLY_TEXT, "prompt_chars": len(body["prompt"])})

    app = web.Application()
    app.router.add_post("/generate", generate)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_ready(session, url: str) -> None:
    for _ in range(300):
        try:
            async with session.get(url) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def load(session, url: str, bodies: list[dict], concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue = list(reversed(bodies))

    async def worker():
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            async with session.post(url, json=body) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def main_async(args) -> None:
    import aiohttp

    from evalpack.adapter.chat_template import get_template
    from evalpack.adapter.tool_emulation import flatten_messages

    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hello! " * 50},
                {"role": "assistant", "content": "Hi, how can I help?"},
                {"role": "user", "content": "What is the weather in Oslo today?"}]
    chats = [{"model": "m", "messages": messages, "max_tokens": 64, **({"tools": [tool]} if i % 2 else {})}
             for i in range(args.requests)]
    template = get_template("chatml")
    prompts = [{"prompt": template.render(flatten_messages(c["messages"], c.get("tools"))),
                "max_new_tokens": 64} for c in chats]

    backend_port, adapter_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen([sys.executable, __file__, "--serve-backend", str(backend_port)], env=env),
             subprocess.Popen([sys.executable, "-m", "evalpack.adapter", "--backend",
                               f"http://127.0.0.1:{backend_port}/generate", "--model", "m",
                               "--port", str(adapter_port)], env=env, stdout=subprocess.DEVNULL)]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
            await wait_ready(session, f"http://127.0.0.1:{backend_port}/generate")
            await wait_ready(session, f"http://127.0.0.1:{adapter_port}/health")
            runs = {"backend direct": (f"http://127.0.0.1:{backend_port}/generate", prompts),
                    "through adapter": (f"http://127.0.0.1:{adapter_port}/v1/chat/completions", chats)}
            for name, (url, bodies) in runs.items():
                await load(session, url, bodies[:100], args.concurrency)  # warm-up
                elapsed, latencies = await load(session, url, bodies, args.concurrency)
                q = statistics.quantiles(latencies, n=100)
                print(f"{name:16} {len(bodies) / elapsed:8.0f} req/s   p50 {q[49] * 1000:6.1f} ms   "
                      f"p99 {q[98] * 1000:6.1f} ms")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve-backend", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_backend:
        serve_backend(args.serve_backend)
        return
    sys.path.insert(0, str(SRC))
    print(f"{args.requests} requests, {args.concurrency} in flight, prompt ~{len('Hello! ' * 50) + 300} chars")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
