"""The one HTTP client (client.py) against real aiohttp servers on 127.0.0.1: retries and what is
not retried, malformed shapes, a stream cut mid-reply, redirects, the key refused, the preflight,
replicas. Each server answers from a script and counts what reached it, so every check is on
what was sent, not on timing. (The same failures through `evalpack eval` are in
test_reliability.py.)"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from evalpack.client import ModelClient
from evalpack.errors import AuthError, FatalCallError, ModelCallError, ServerError
from in_process_server import InProcessServer

BODY = {"model": "m", "messages": [{"role": "user", "content": "Q?"}]}


def completion(content="ANSWER: A", finish="stop", **message) -> dict:
    return {"id": "c1", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, **message},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


class Scripted(InProcessServer):
    """A server whose n-th POST gets the n-th scripted answer (the last one repeats)."""

    def __init__(self, *answers, models=("m",)) -> None:
        super().__init__()
        self.answers, self.models = list(answers), models
        self.posts: list[dict] = []
        self.gets: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            self.gets.append(request.path)
            if self.models is None:
                return web.Response(status=401, text='{"error": {"message": "bad key"}}')
            return web.json_response({"object": "list", "data": [{"id": m} for m in self.models]})
        self.posts.append({"path": request.path, "body": await request.json(),
                           "auth": request.headers.get("Authorization")})
        answer = self.answers[min(len(self.posts), len(self.answers)) - 1]
        return await answer(request)


def fixed(make):
    """An answer: a fresh response from `make()` for every request (a response is sent once)."""
    async def answer(request):
        return make()
    return answer


def status(code: int, message: str = "", **headers):
    return fixed(lambda: web.json_response({"error": {"message": message or f"status {code}"}}, status=code,
                                           headers=headers))


def ok(**kw):
    return fixed(lambda: web.json_response(completion(**kw)))


def sse(*events: str, content_type="text/event-stream"):
    async def answer(request):
        resp = web.StreamResponse(headers={"Content-Type": content_type})
        await resp.prepare(request)
        for e in events:
            await resp.write(f"data: {e}\n\n".encode())
        return resp
    return answer


def delta(content=None, finish=None, **extra) -> str:
    d = {"content": content} if content is not None else {}
    return json.dumps({"choices": [{"index": 0, "delta": {**d, **extra}, "finish_reason": finish}]})


def run(coro):
    return asyncio.run(coro)


async def ask(server: Scripted, body: dict = BODY, **client_args):
    client_args = {"retries": 2, "retry_interval": 0.001, "timeout": 10, **client_args}
    async with ModelClient([server.url], "m", **client_args) as client:
        return await client.chat(body)


# --- retries ------------------------------------------------------------------------------

def test_5xx_and_429_are_retried_until_an_answer():
    async def main():
        async with Scripted(status(503), status(429, **{"Retry-After": "0"}), ok(content="ANSWER: C")) as s:
            reply = await ask(s)
            return reply, len(s.posts)

    reply, posts = run(main())
    assert (reply.content, reply.attempts, posts) == ("ANSWER: C", 3, 3)
    assert reply.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5} and reply.latency > 0


def test_retries_run_out_with_the_last_failure_named():
    async def main():
        async with Scripted(status(502, "upstream down")) as s:
            with pytest.raises(ModelCallError) as err:
                await ask(s, retries=3)
            return err.value, len(s.posts)

    error, posts = run(main())
    assert posts == 4 and error.kind == "http_502"
    assert "failed after 4 attempts" in str(error) and "upstream down" in str(error)


@pytest.mark.parametrize("code", [400, 404, 422])
def test_a_client_error_is_not_retried(code):
    async def main():
        async with Scripted(status(code, "context too long")) as s:
            with pytest.raises(ModelCallError) as err:
                await ask(s)
            return err.value, len(s.posts)

    error, posts = run(main())
    assert posts == 1 and error.kind == f"http_{code}" and not isinstance(error, FatalCallError)
    assert "context too long" in str(error)


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_key_is_an_auth_error_at_once(code):
    async def main():
        async with Scripted(status(code, "invalid api key")) as s:
            with pytest.raises(AuthError) as err:
                await ask(s, api_key="sk-client-test-key-0001")
            return err.value, s.posts

    error, posts = run(main())
    assert len(posts) == 1 and posts[0]["auth"] == "Bearer sk-client-test-key-0001"
    assert isinstance(error, FatalCallError) and error.kind == f"http_{code}"
    assert "refused the API key" in str(error)


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(code):
    async def main():
        async with Scripted(fixed(lambda: web.Response(status=code, headers={"Location": "http://127.0.0.1:9/v2/chat"}))) as s:
            with pytest.raises(FatalCallError) as err:
                await ask(s)
            return err.value, s

    error, server = run(main())
    assert len(server.posts) == 1 and server.gets == []  # no bodiless GET to the new place
    assert f"HTTP {code}" in str(error) and "http://127.0.0.1:9/v2/chat" in str(error)
    assert "--api-url" in str(error)


def test_an_unreachable_server_is_a_connection_error_after_the_retries():
    from conftest import free_port

    async def main():
        async with ModelClient([f"http://127.0.0.1:{free_port()}/v1"], "m", retries=1,
                               retry_interval=0.001) as client:
            with pytest.raises(ModelCallError) as err:
                await client.chat(BODY)
            return err.value, client.stats

    error, stats = run(main())
    assert error.kind == "connection" and stats == {"requests": 2, "retries": 1, "failures": 1}


def test_a_server_that_never_answers_times_out():
    server = None

    async def hang(request):
        await server.closing.wait()  # answers nothing while the client waits
        return web.Response(status=204)

    async def main():
        nonlocal server
        async with Scripted(hang) as server:
            s = server
            with pytest.raises(ModelCallError) as err:
                await ask(s, timeout=0.3, retries=1)
            return err.value, len(s.posts)

    error, posts = run(main())
    assert error.kind == "timeout" and posts == 2


# --- shapes -------------------------------------------------------------------------------

@pytest.mark.parametrize("answer,words", [
    (lambda: web.json_response({"choices": "ANSWER: A"}), "malformed"),
    (lambda: web.json_response({"choices": [{"message": "ANSWER: A", "finish_reason": "stop"}]}), "malformed"),
    (lambda: web.json_response(completion(content=42)), "malformed"),
    (lambda: web.json_response({"choices": []}), "malformed"),
    (lambda: web.Response(text="<html>gateway says hi</html>", content_type="text/html"), "gateway says hi"),
    (lambda: web.json_response(completion(None, tool_calls=[{"id": "x", "type": "function", "function": None}])),
     "malformed"),
])
def test_a_reply_of_the_wrong_shape_is_a_retried_bad_reply(answer, words):
    async def main():
        async with Scripted(fixed(answer)) as s:
            with pytest.raises(ModelCallError) as err:
                await ask(s, retries=1)
            return err.value, len(s.posts)

    error, posts = run(main())
    assert error.kind == "bad_reply" and posts == 2, str(error)
    assert words in str(error)


def test_a_wrong_shape_then_a_good_reply_recovers():
    async def main():
        async with Scripted(fixed(lambda: web.json_response({"choices": "x"})), ok(content="ANSWER: D")) as s:
            return await ask(s)

    reply = run(main())
    assert (reply.content, reply.attempts) == ("ANSWER: D", 2)


def test_tool_calls_and_reasoning_are_read():
    calls = [{"id": "c", "type": "function", "function": {"name": "get", "arguments": "{\"a\": 1}"}}]

    async def main():
        async with Scripted(ok(content=None, finish="tool_calls", tool_calls=calls, reasoning_content="hmm")) as s:
            return await ask(s)

    reply = run(main())
    assert reply.tool_calls == calls and reply.reasoning == "hmm" and reply.finish_reason == "tool_calls"
    assert reply.message() == {"role": "assistant", "content": None, "tool_calls": calls}


# --- streams ------------------------------------------------------------------------------

STREAM = {**BODY, "stream": True}


def test_a_stream_is_joined_with_its_usage_and_first_token_time():
    events = (delta(role="assistant"), delta("ANSWER"), delta(": B"), delta(finish="stop"),
              json.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}),
              "[DONE]")

    async def main():
        async with Scripted(sse(*events)) as s:
            return await ask(s, STREAM)

    reply = run(main())
    assert (reply.content, reply.finish_reason) == ("ANSWER: B", "stop")
    assert reply.usage["completion_tokens"] == 2 and reply.ttft is not None and len(reply.chunk_times) == 2


def test_a_stream_cut_before_its_end_is_a_bad_reply_retried():
    async def main():
        async with Scripted(sse(delta("ANSWER: "))) as s:  # closed before [DONE] or a finish_reason
            with pytest.raises(ModelCallError) as err:
                await ask(s, STREAM, retries=1)
            return err.value, len(s.posts)

    error, posts = run(main())
    assert error.kind == "bad_reply" and posts == 2 and "ended before [DONE]" in str(error)


@pytest.mark.parametrize("event,words", [("{not json", "malformed stream chunk"),
                                          ('["a list"]', "not an object"),
                                          (json.dumps({"choices": "x"}), "choices is not a list")])
def test_a_malformed_stream_chunk_is_a_bad_reply(event, words):
    async def main():
        async with Scripted(sse(event, "[DONE]")) as s:
            with pytest.raises(ModelCallError) as err:
                await ask(s, STREAM, retries=0)
            return err.value

    error = run(main())
    assert error.kind == "bad_reply" and words in str(error)


def test_a_stream_request_answered_with_plain_json_is_read():
    async def main():
        async with Scripted(ok(content="ANSWER: A")) as s:
            return await ask(s, STREAM)

    assert run(main()).content == "ANSWER: A"


# --- preflight and replicas ---------------------------------------------------------------

def test_preflight_checks_the_model_list():
    async def main():
        async with Scripted(ok(), models=("other", "third")) as s:
            async with ModelClient([s.url], "m") as client:
                with pytest.raises(ServerError) as err:
                    await client.preflight()
            async with ModelClient([s.url], "third") as client:
                await client.preflight()
                return err.value, client.served_models, s.gets

    error, served, gets = run(main())
    assert "model 'm' is not served" in str(error) and "other, third" in str(error)
    assert list(served.values()) == [["other", "third"]] and gets == ["/v1/models", "/v1/models"]


def test_preflight_with_a_refused_key_says_so():
    async def main():
        async with Scripted(ok(), models=None) as s:
            async with ModelClient([s.url], "m", api_key="sk-client-test-key-0002") as client:
                with pytest.raises(ServerError) as err:
                    await client.preflight()
                return err.value

    error = run(main())
    assert "refused the API key (HTTP 401)" in str(error) and "sk-client-test-key-0002" not in str(error)


def test_requests_are_spread_over_replicas():
    async def main():
        async with Scripted(ok()) as a, Scripted(ok()) as b:
            async with ModelClient([a.url, b.url], "m", concurrency=4) as client:
                await asyncio.gather(*(client.chat(BODY) for _ in range(10)))
            return len(a.posts), len(b.posts)

    assert run(main()) == (5, 5)


def test_a_key_echoed_in_an_error_is_scrubbed():
    key = "sk-client-test-key-0003"

    async def echo(request):
        return await status(400, f"bad request, you sent {request.headers['Authorization']}")(request)

    async def main():
        async with Scripted(echo) as s:
            with pytest.raises(ModelCallError) as err:
                await ask(s, api_key=key)
            return str(err.value)

    message = run(main())
    assert key not in message and "***" in message
