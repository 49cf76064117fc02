"""The one HTTP client to OpenAI-compatible model servers.

One pooled keep-alive connection set per endpoint group, bounded concurrency,
retries with exponential backoff and jitter on connection errors, timeouts,
429 (honouring Retry-After) and 5xx, per-request timeout, round-robin over
replicas (`--api-url` given several times). Latency and token usage are
recorded per call. The API key is sent in a header and never logged.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time

import aiohttp

from evalpack.errors import AuthError, ModelCallError, ServerError
from evalpack.types import ChatReply

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524, 529}
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# Idle connections are dropped before uvicorn (vLLM, SGLang) and cpp-httplib (llama.cpp) close
# theirs after 5 s: writing to a connection the server already closed fails the request
# ("Can not write request body"), which cost eval a retry and perf a counted error.
KEEPALIVE = 4.0
STALE_RESENDS = 2


def normalize_base(url: str) -> str:
    """Accept `http://h:p`, `http://h:p/v1`, `.../v1/chat/completions`; return the /v1 base."""
    url = url.strip().rstrip("/")
    for suffix in ("/chat/completions", "/completions", "/models"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    if not url.startswith(("http://", "https://")):
        raise ServerError(f"--api-url {url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
    if not url.endswith("/v1") and "/v1/" not in url + "/":
        url += "/v1"
    return url


class ModelClient:
    """Async client for one model served by one or more replicas."""

    def __init__(self, api_urls: list[str], model: str, api_key: str | None = None, *,
                 concurrency: int = 32, timeout: float = 600.0, retries: int = 3,
                 stream: bool = False) -> None:
        self.bases = [normalize_base(u) for u in api_urls]
        self.model = model
        self._api_key = api_key
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.stream = bool(stream)
        self.concurrency = max(1, int(concurrency))
        self._limit = asyncio.Semaphore(self.concurrency)
        self._inflight = [0] * len(self.bases)
        self._next = 0
        self.served_models: dict[str, list[str]] = {}  # base -> the ids its /models lists
        self._session: aiohttp.ClientSession | None = None
        self.stats = {"requests": 0, "retries": 0, "failures": 0}

    # --- lifecycle ---
    async def __aenter__(self) -> "ModelClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.concurrency * 2, limit_per_host=0,
                                             keepalive_timeout=KEEPALIVE, enable_cleanup_closed=True)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers(),
                                                  trust_env=False, auto_decompress=True)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- preflight ---
    async def list_models(self, base: str) -> list[str]:
        timeout = aiohttp.ClientTimeout(total=min(self.timeout, 30.0))
        try:
            async with self.session.get(f"{base}/models", timeout=timeout) as resp:
                body = await resp.text()
                if resp.status in (401, 403):
                    raise ServerError(f"{base}/models refused the API key (HTTP {resp.status}); "
                                      f"check --api-key")
                if resp.status >= 400:
                    raise ServerError(f"{base}/models answered HTTP {resp.status}: {body[:200]}")
                data = json.loads(body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise ServerError(f"cannot reach the model server at {base} ({_describe(e)}); "
                              f"is it running, and is --api-url right?") from None
        except json.JSONDecodeError:
            raise ServerError(f"{base}/models did not return JSON; is --api-url an "
                              f"OpenAI-compatible endpoint?") from None
        # OpenAI lists {"data": [{"id"}]}; some servers (llama.cpp, ollama) add {"models": [{"name"}]}
        items = (data.get("data") or data.get("models") or []) if isinstance(data, dict) else []
        return [str(m.get("id") or m.get("name") or m.get("model")) for m in items if isinstance(m, dict)]

    async def preflight(self) -> None:
        """Every replica must answer /models and list --model."""
        for base in self.bases:
            ids = await self.list_models(base)
            self.served_models[base] = ids  # recorded in the report's metadata
            if ids and self.model not in ids:
                raise ServerError(f"model {self.model!r} is not served at {base}; it serves: "
                                  f"{', '.join(ids)}. Pass one of these as --model.")

    # --- chat ---
    def _pick(self) -> int:
        """Least-loaded replica, ties broken round-robin."""
        n = len(self.bases)
        if n == 1:
            return 0
        start, self._next = self._next, (self._next + 1) % n
        return min(((start + i) % n for i in range(n)), key=lambda i: self._inflight[i])

    async def complete(self, body: dict, payload: bytes | None = None) -> ChatReply:
        """POST /completions (a raw prompt, no chat template), with chat()'s retries; the
        text is the reply's `content`."""
        return await self.chat(body, payload, path="/completions")

    async def tokenize(self, text: str) -> list[int]:
        """llama.cpp's POST /tokenize (at the server's root, beside /v1): the model's token
        ids of `text`, without special tokens; chat()'s retries. ModelCallError elsewhere."""
        payload = json.dumps({"content": text, "add_special": False}, ensure_ascii=False).encode()
        ids, _, _ = await self._send("/tokenize", payload, parse=_token_ids, at_root=True)
        return ids

    async def chat(self, body: dict, payload: bytes | None = None, path: str = "/chat/completions") -> ChatReply:
        """POST /chat/completions with retries. `body` is the full request (model included);
        `payload`, when given, is its serialisation (saves encoding it twice)."""
        if payload is None:
            payload = json.dumps(body, ensure_ascii=False).encode()
        reply, attempts, latency = await self._send(path, payload, stream=bool(body.get("stream")))
        reply.latency, reply.attempts = latency, attempts
        return reply

    async def _send(self, path: str, payload: bytes, stream: bool = False, parse=None, at_root: bool = False):
        """(parsed reply, attempts, seconds of the last attempt) of one POST, retried on
        connection errors, timeouts, 429 and 5xx."""
        last_error, kind = "no attempt made", "error"
        async with self._limit:
            for attempt in range(self.retries + 1):
                idx = self._pick()
                self._inflight[idx] += 1
                started = time.perf_counter()
                base = self.bases[idx].removesuffix("/v1") if at_root else self.bases[idx]
                wait = None
                try:
                    self.stats["requests"] += 1
                    reply = await self._post(base + path, payload, stream, started, parse or _chat_reply)
                    return reply, attempt + 1, time.perf_counter() - started
                except _HTTPStatus as e:
                    last_error, kind = f"HTTP {e.status}: {e.message}", f"http_{e.status}"
                    if e.status in (401, 403):
                        raise AuthError(f"the server refused the API key ({last_error})", kind) from None
                    if e.status not in RETRY_STATUS:
                        raise ModelCallError(last_error, kind) from None
                    wait = e.retry_after
                except asyncio.TimeoutError as e:
                    last_error, kind = _describe(e), "timeout"
                except (aiohttp.ClientError, OSError) as e:
                    last_error, kind = _describe(e), "connection"
                except _BadReply as e:
                    last_error, kind = str(e), "bad_reply"
                finally:
                    self._inflight[idx] -= 1
                if attempt < self.retries:
                    self.stats["retries"] += 1
                    delay = wait if wait is not None else min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
                    await asyncio.sleep(min(delay, BACKOFF_CAP * 4) * (1 + random.uniform(0, 0.25)))
        self.stats["failures"] += 1
        raise ModelCallError(f"failed after {self.retries + 1} attempts: {last_error}", kind)

    async def _post(self, url: str, payload: bytes, stream: bool, started: float, parse):
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        for resends in range(STALE_RESENDS, -1, -1):
            try:
                resp = await self.session.post(url, data=payload, timeout=timeout)
                break
            except aiohttp.ClientConnectorError:
                raise
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # a pooled keep-alive connection the server had closed (llama-server closes one
                # after every streamed reply without saying so): nothing was answered, send again
                if not resends:
                    raise
        async with resp:
            if resp.status >= 400:
                text = await resp.text(errors="replace")
                raise _HTTPStatus(resp.status, _error_message(text), _retry_after(resp.headers))
            if stream:
                return await _read_stream(resp, started)
            raw = await resp.read()
        try:
            return parse(json.loads(raw))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _BadReply(f"malformed completion: {raw[:200]!r}") from None


def _chat_reply(data: dict) -> ChatReply:
    choice = data["choices"][0]
    msg = choice.get("message") or ({"content": choice["text"]} if "text" in choice else {})  # /completions
    return ChatReply(content=msg.get("content"), tool_calls=msg.get("tool_calls") or None,
                     logprobs=choice.get("logprobs") or None,
                     finish_reason=choice.get("finish_reason"),
                     reasoning=msg.get("reasoning_content") or msg.get("reasoning"),
                     usage=data.get("usage") or {}, server_timings=data.get("timings"))


def _token_ids(data: dict) -> list[int]:
    """llama.cpp answers [id, ...], or [{"id", "piece"}, ...] when pieces were asked for."""
    return [t["id"] if isinstance(t, dict) else int(t) for t in data["tokens"]]


class _HTTPStatus(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None):
        self.status, self.message, self.retry_after = status, message, retry_after


class _BadReply(Exception):
    pass


async def _sse_data(resp: aiohttp.ClientResponse):
    """(arrival time, payload) of each `data:` line, reading whatever the socket has at once:
    a line is stamped when the read that completed it arrived (lines that came together share
    a stamp, as they should), and there is one await per read, not per line."""
    pending = b""
    async for block in resp.content.iter_any():
        now = time.perf_counter()
        lines = (pending + block).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                yield now, line[5:].strip()
    if pending.startswith(b"data:"):
        yield time.perf_counter(), pending[5:].strip()


async def _read_stream(resp: aiohttp.ClientResponse, started: float) -> ChatReply:
    """Join SSE chunks into one reply (content, reasoning and tool-call deltas by index), noting
    when each delta that carries text or a tool call arrived (role-only and empty deltas do not
    count: a server that sends `{"role": "assistant"}` at once has not produced a token yet)."""
    times: list[float] = []
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict] = {}
    finish = None
    usage: dict = {}
    timings = None
    async for now, data in _sse_data(resp):
        if data == b"[DONE]":
            break
        try:
            chunk = json.loads(data.decode("utf-8", "replace"))  # str: json skips sniffing the encoding
        except ValueError:
            raise _BadReply(f"malformed stream chunk: {data[:200]!r}") from None
        if not isinstance(chunk, dict):
            raise _BadReply(f"malformed stream chunk: {data[:200]!r}")
        if chunk.get("error"):
            raise _HTTPStatus(500, _error_message(json.dumps(chunk)), None)
        usage = chunk.get("usage") or usage
        timings = chunk.get("timings") or timings
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
                times.append(now - started)
            if delta.get("content"):
                content.append(delta["content"])
            if delta.get("reasoning_content"):
                reasoning.append(delta["reasoning_content"])
            for tc in delta.get("tool_calls") or []:
                slot = calls.setdefault(tc.get("index", len(calls)),
                                        {"id": None, "type": "function",
                                         "function": {"name": "", "arguments": ""}})
                slot["id"] = slot["id"] or tc.get("id")
                fn = tc.get("function") or {}
                # some servers repeat the name in every delta: keep it once
                if fn.get("name") and fn["name"] != slot["function"]["name"]:
                    slot["function"]["name"] += fn["name"]
                if fn.get("arguments"):
                    slot["function"]["arguments"] += fn["arguments"]
            finish = choice.get("finish_reason") or finish
    tool_calls = [calls[i] for i in sorted(calls)] or None
    return ChatReply(content="".join(content) if content or not tool_calls else None,
                     tool_calls=tool_calls, finish_reason=finish,
                     reasoning="".join(reasoning) or None, usage=usage,
                     ttft=times[0] if times else None, chunk_times=times, server_timings=timings)


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
            return max(0.0, when - time.time())
        except (TypeError, ValueError):
            return None


def _error_message(text: str) -> str:
    try:
        err = json.loads(text).get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err)[:500]
        if err:
            return str(err)[:500]
    except (ValueError, AttributeError):
        pass
    return text.strip()[:500] or "(empty body)"


def _describe(e: BaseException) -> str:
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
