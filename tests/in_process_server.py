"""An aiohttp server on 127.0.0.1 inside the test's own event loop, for unit tests of the client and
the pool: a subclass routes requests to its `handle`; `closing` releases handlers a test holds."""

from __future__ import annotations

import asyncio

from aiohttp import web


class InProcessServer:
    route = ("*", "/{tail:.*}")  # (method, path) sent to `handle`

    def __init__(self) -> None:
        self.url = ""
        self.closing = asyncio.Event()  # held handlers return when the test is done with the server

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def __aenter__(self):
        app = web.Application()
        app.router.add_route(*self.route, self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
        return self

    async def __aexit__(self, *exc) -> None:
        self.closing.set()
        await self.runner.cleanup()
