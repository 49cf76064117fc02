"""The OpenAI-compatible front (`/v1/models`, `/v1/chat/completions`) of a text backend.

One request: validate -> flatten the conversation (tools emulated in the text) ->
render it with the chat template -> one backend call -> cut at stop strings -> read
tool calls back -> answer as JSON or as server-sent events. Streaming is produced
from the complete backend reply: tool calls can only be recognised in the whole
text, and a backend error can then still become a proper HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from evalpack import openai_wire
from evalpack.adapter import tool_emulation
from evalpack.adapter.chat_template import ChatTemplate
from evalpack.adapter.presets import BackendReply, BadBackendReply, Generation, Preset
from evalpack.adapter.tokens import estimate_tokens
from evalpack.errors import UsageError


@dataclass
class AdapterConfig:
    backend_url: str
    preset: Preset
    template: ChatTemplate
    model: str
    timeout: float = 600.0  # seconds for one backend call
    backend_headers: dict = field(default_factory=dict)  # may hold secrets: never logged
    api_key: str | None = None  # when set, clients must send it as a bearer token
    max_concurrency: int = 0  # 0: no limit on parallel backend calls
    default_max_tokens: int | None = None
    extra_stop: list[str] = field(default_factory=list)
    reasoning_tags: bool = False  # move <think>...</think> into reasoning_content


class OpenAIError(Exception):
    """An error answered as OpenAI does: HTTP status + {"error": {message, type, code}}."""

    def __init__(self, status: int, message: str, type_: str, code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def response(self) -> web.Response:
        return openai_wire.error_response(self.status, self.message, self.type, self.code, self.param)


def invalid(message: str, param: str | None = None) -> OpenAIError:
    return OpenAIError(400, message, "invalid_request_error", None, param)


# ---- request parsing -------------------------------------------------------------

def _generation(body: dict, config: AdapterConfig) -> Generation:
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = config.default_max_tokens
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                   or max_tokens < 1):
        raise invalid("max_tokens must be a positive integer.", "max_tokens")
    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise invalid("stop must be a string or a list of strings.", "stop")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise invalid(f"{name} must be a number.", name)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise invalid("seed must be an integer.", "seed")
    # The chat template's end-of-turn strings come first: TGI keeps only the first 4.
    stops = list(dict.fromkeys(config.template.stop + stop + config.extra_stop))
    return Generation(max_tokens=max_tokens, temperature=body.get("temperature"),
                      top_p=body.get("top_p"), stop=stops, seed=seed)


def _prompt(body: dict, config: AdapterConfig) -> tuple[str, list[dict] | None]:
    tools = body.get("tools") or None
    tool_choice = body.get("tool_choice")
    if tools is not None and not isinstance(tools, list):
        raise invalid("tools must be a list.", "tools")
    try:
        tool_emulation.tool_names(tools)  # validates their shape
        if config.template.native_tools:
            messages = tool_emulation.native_messages(body.get("messages"))
            prompt = config.template.render(messages, tools if tool_choice != "none" else None)
        else:
            messages = tool_emulation.flatten_messages(body.get("messages"), tools, tool_choice)
            prompt = config.template.render(messages, None)
    except UsageError as exc:
        raise invalid(str(exc), "messages") from None
    return prompt, (tools if tool_choice != "none" else None)


# ---- backend call -------------------------------------------------------------------

def _backend_message(raw: bytes) -> str:
    """The error text a backend sent, whatever its shape."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text[:500] or "(empty body)"
    if isinstance(document, dict):
        for key in ("error", "detail", "message"):
            value = document.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if value:
                return str(value)[:500]
    return text[:500]


def _status_error(status: int, raw: bytes) -> OpenAIError:
    detail = _backend_message(raw)
    if status == 429:
        return OpenAIError(429, f"backend is rate limiting: {detail}", "rate_limit_error", "rate_limit_exceeded")
    if status in (400, 413, 422):  # the backend rejected this input (e.g. prompt too long)
        return OpenAIError(400, f"backend rejected the request: {detail}", "invalid_request_error",
                           "backend_rejected")
    if status in (401, 403):
        return OpenAIError(502, f"backend refused the adapter's credentials (HTTP {status}); "
                           "check --backend-header", "server_error", "backend_auth")
    if status == 404:
        return OpenAIError(502, f"backend has no such endpoint (HTTP 404); check --backend: {detail}",
                           "server_error", "backend_not_found")
    return OpenAIError(502, f"backend error (HTTP {status}): {detail}", "server_error", "backend_error")


async def call_backend(app: web.Application, prompt: str, generation: Generation) -> BackendReply:
    config: AdapterConfig = app["config"]
    body = config.preset.body(prompt, generation)
    async with app["backend_slots"]:
        try:
            async with app["client"].post(config.backend_url, json=body, headers=config.backend_headers,
                                          timeout=aiohttp.ClientTimeout(total=config.timeout)) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except asyncio.TimeoutError:  # also covers aiohttp's ServerTimeoutError
            raise OpenAIError(504, f"backend did not answer within {config.timeout:g} s "
                              "(raise --timeout if it is just slow)", "server_error", "backend_timeout") from None
        except aiohttp.ClientError as exc:
            raise OpenAIError(502, f"backend unreachable at {config.backend_url}: {exc}",
                              "server_error", "backend_unreachable") from None
    if status >= 400:
        raise _status_error(status, raw)
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        if not config.preset.plain_text_reply:
            raise OpenAIError(502, f"backend answered HTTP {status} with non-JSON: {raw[:200]!r} "
                              "(a plain-text backend needs --reply-path '$')",
                              "server_error", "bad_backend_response") from None
        document = raw.decode("utf-8", "replace")
    try:
        return config.preset.reply(document, headers)
    except BadBackendReply as exc:
        raise OpenAIError(502, f"{exc} (check --preset/--field/--reply-path)",
                          "server_error", "bad_backend_response") from None


# ---- reply ------------------------------------------------------------------------

def _cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    positions = [text.find(s) for s in stops if s]
    positions = [p for p in positions if p >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


_THINK_END = "</think>"


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, answer) of a reply whose thinking ends with </think>; the opening tag
    may be missing because many templates put it in the prompt."""
    if _THINK_END not in text:
        return None, text
    thinking, _, answer = text.partition(_THINK_END)
    thinking = thinking.strip()
    if thinking.startswith("<think>"):
        thinking = thinking[len("<think>"):].strip()
    return thinking, answer.lstrip()


def build_choice(prompt: str, reply: BackendReply, generation: Generation, tools,
                 reasoning_split: bool = False, parallel_calls: bool = True) -> tuple[dict, str, dict]:
    text = reply.text
    if prompt and text.startswith(prompt):  # backends that echo the prompt (TRT-LLM, HF pipelines)
        text = text[len(prompt):]
    text, stopped = _cut_at_stop(text, generation.stop)
    raw_text = text
    reasoning = None
    if reasoning_split:
        reasoning, text = split_reasoning(text)
    finish = "stop" if stopped else reply.finish_reason
    if finish is None:
        hit_limit = (generation.max_tokens is not None and reply.completion_tokens is not None
                     and reply.completion_tokens >= generation.max_tokens)
        finish = "length" if hit_limit else "stop"
    message: dict = {"role": "assistant", "content": text}
    # Calls are read from the answer only: JSON a model drafts while thinking is no call.
    answer = split_reasoning(text)[1] if not reasoning_split else text
    calls = tool_emulation.parse_tool_calls(answer, tools) if tools else []
    if not parallel_calls:
        calls = calls[:1]
    if calls:
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        finish = "tool_calls"
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    estimated = reply.prompt_tokens is None or reply.completion_tokens is None
    prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else estimate_tokens(prompt)
    completion_tokens = (reply.completion_tokens if reply.completion_tokens is not None
                         else estimate_tokens(raw_text))
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    if estimated:
        usage["estimated"] = True
    return message, finish, usage


def _pieces(text: str, words: int = 6) -> list[str]:
    tokens = text.split(" ")
    return [" ".join(tokens[i:i + words]) + (" " if i + words < len(tokens) else "")
            for i in range(0, len(tokens), words)]


# ---- handlers ------------------------------------------------------------------------

async def chat_completions(request: web.Request) -> web.StreamResponse:
    config: AdapterConfig = request.app["config"]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise invalid("the request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("the request body must be a JSON object.")
    model = body.get("model")
    if model is not None and model != config.model:
        raise OpenAIError(404, f"The model `{model}` does not exist; this adapter serves "
                          f"`{config.model}`.", "invalid_request_error", "model_not_found", "model")
    if body.get("n", 1) not in (1, None):
        raise invalid("n > 1 is not supported by the adapter.", "n")
    generation = _generation(body, config)
    prompt, tools = _prompt(body, config)
    reply = await call_backend(request.app, prompt, generation)
    message, finish, usage = build_choice(prompt, reply, generation, tools, config.reasoning_tags,
                                          parallel_calls=body.get("parallel_tool_calls") is not False)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return await openai_wire.stream(request, completion_id, config.model, message, finish, usage,
                                        include_usage, pieces=_pieces, created=created)
    return openai_wire.completion(completion_id, config.model, message, finish, usage, created)


async def list_models(request: web.Request) -> web.Response:
    config: AdapterConfig = request.app["config"]
    return openai_wire.model_list(config.model, "evalpack-adapter", request.app["started"])


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@web.middleware
async def openai_errors(request: web.Request, handler):
    config: AdapterConfig = request.app["config"]
    try:
        if request.path.startswith("/v1/") and not openai_wire.bearer_ok(request, config.api_key):
            return openai_wire.unauthorized()
        return await handler(request)
    except OpenAIError as exc:
        return exc.response()
    except web.HTTPException as exc:  # unknown path, wrong method
        return OpenAIError(exc.status, exc.reason, "invalid_request_error", None).response()
    except Exception as exc:  # a bug here must still reach the client as an OpenAI error
        print(f"evalpack adapter: internal error: {exc!r}", file=sys.stderr)
        return OpenAIError(500, f"adapter internal error: {type(exc).__name__}: {exc}",
                           "server_error", "internal_error").response()


def make_app(config: AdapterConfig) -> web.Application:
    app = web.Application(middlewares=[openai_errors], client_max_size=64 * 1024 * 1024)
    app["config"] = config
    app["started"] = int(time.time())

    async def open_client(app):
        # No connection cap here: --max-concurrency (a semaphore) is the one limit.
        app["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        app["backend_slots"] = (asyncio.Semaphore(config.max_concurrency) if config.max_concurrency
                                else _NoLimit())

    async def close_client(app):
        await app["client"].close()

    app.on_startup.append(open_client)
    app.on_cleanup.append(close_client)
    app.router.add_get("/v1/models", list_models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/health", health)
    return app


class _NoLimit:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


async def serve(config: AdapterConfig, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    print(f"evalpack adapter: serving {config.model!r} at http://{host}:{port}/v1 -> "
          f"{config.backend_url} (preset {config.preset.name}, template {config.template.name})",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
