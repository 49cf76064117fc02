"""The one HTTP client to OpenAI-compatible model servers.

One pooled keep-alive connection set per endpoint group, bounded concurrency,
retries with exponential backoff and jitter on connection errors, timeouts,
429 (honouring Retry-After) and 5xx, per-request timeout, round-robin over
replicas (`--api-url` given several times). Latency and token usage are
recorded per call. The API key is sent in a header and registered with the
scrubber, so no error text carries it. Redirects are not followed (aiohttp would
turn a redirected POST into a bodiless GET): they stop the run with a sentence.
Every reply is checked for shape: a malformed one, or a stream that ends before
[DONE] / a finish_reason, is an error for its sample, retried like the others and
never cached.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from typing import Any

import aiohttp

from evalpack.errors import AuthError, FatalCallError, ModelCallError, ServerError
from evalpack.scrub import add_secret, add_url_secrets, scrub
from evalpack.types import ChatReply

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 521, 522, 524, 529}
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0
# Idle connections are dropped before uvicorn (vLLM, SGLang) and cpp-httplib (llama.cpp) close
# theirs after 5 s: writing to a connection the server already closed fails the request
# ("Can not write request body"), which cost eval a retry and perf a counted error.
KEEPALIVE = 4.0
STALE_RESENDS = 2
# No chat reply comes near this (a million tokens is a few MB); a server that sends an endless or
# enormous body is stopped here instead of filling memory. Error bodies are only quoted: 64 KiB.
MAX_REPLY_BYTES = 64 * 2**20
MAX_ERROR_BYTES = 64 * 2**10


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
    add_url_secrets(url)
    return url


class ModelClient:
    """Async client for one model served by one or more replicas."""

    def __init__(self, api_urls: list[str], model: str, api_key: str | None = None, *,
                 concurrency: int = 32, timeout: float = 600.0, retries: int = 3,
                 stream: bool = False, retry_interval: float | None = None) -> None:
        self.bases = [normalize_base(u) for u in api_urls]
        self.model = model
        self._api_key = api_key
        add_secret(api_key)
        # retry_interval (EvalScope's): the first wait between attempts; it doubles after each
        self.backoff = BACKOFF_BASE if retry_interval is None else float(retry_interval)
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
                    raise ServerError(scrub(f"{base}/models answered HTTP {resp.status}: {_error_message(body)[:200]}; "
                                            f"check --api-url, or pass --skip-preflight if only "
                                            f"/chat/completions is served"))
                data = json.loads(body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            raise ServerError(f"cannot reach the model server at {base} ({_describe(e)}); "
                              f"is it running, and is --api-url right?") from None
        except json.JSONDecodeError:
            raise ServerError(f"{base}/models did not return JSON; is --api-url an "
                              f"OpenAI-compatible endpoint? (--skip-preflight skips this check)") from None
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
                    reply = await self._post(base + path, payload, stream, started, parse)
                    return reply, attempt + 1, time.perf_counter() - started
                except _Redirect as e:
                    raise FatalCallError(scrub(
                        f"the server redirects {base}{path} (HTTP {e.status}) to "
                        f"{e.location or 'an unnamed location'}; evalpack does not follow redirects (the "
                        f"request would lose its body): give the final URL as --api-url")) from None
                except _HTTPStatus as e:
                    last_error, kind = scrub(f"HTTP {e.status}: {e.message}"), f"http_{e.status}"
                    if e.status in (401, 403):
                        raise AuthError(f"the server refused the API key ({last_error})", kind) from None
                    if e.status not in RETRY_STATUS:
                        raise ModelCallError(last_error, kind) from None
                    wait = e.retry_after
                except asyncio.TimeoutError as e:
                    last_error, kind = _describe(e), "timeout"
                except (aiohttp.ClientError, OSError) as e:
                    last_error, kind = scrub(_describe(e)), "connection"
                except _BadReply as e:
                    last_error, kind = scrub(str(e)), "bad_reply"
                finally:
                    self._inflight[idx] -= 1
                if attempt < self.retries:
                    self.stats["retries"] += 1
                    delay = wait if wait is not None else min(BACKOFF_CAP, self.backoff * 2 ** attempt)
                    await asyncio.sleep(min(delay, BACKOFF_CAP * 4) * (1 + random.uniform(0, 0.25)))
        self.stats["failures"] += 1
        raise ModelCallError(scrub(f"failed after {self.retries + 1} attempts: {last_error}"), kind)

    async def _post(self, url: str, payload: bytes, stream: bool, started: float, parse):
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        for resends in range(STALE_RESENDS, -1, -1):
            try:
                resp = await self.session.post(url, data=payload, timeout=timeout, allow_redirects=False)
                break
            except aiohttp.ClientConnectorError:
                raise
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # a pooled keep-alive connection the server had closed (llama-server closes one
                # after every streamed reply without saying so): nothing was answered, send again
                if not resends:
                    raise
        async with resp:
            if 300 <= resp.status < 400:
                raise _Redirect(resp.status, resp.headers.get("Location"))
            if resp.status >= 400:
                text = _decode(await _read_at_most(resp, MAX_ERROR_BYTES), resp.charset)
                raise _HTTPStatus(resp.status, _error_message(text), _retry_after(resp.headers))
            if stream and "text/event-stream" in resp.headers.get("Content-Type", ""):
                joiner = _StreamJoiner(started)
                async for now, line in _sse_lines(resp):
                    if joiner.feed(line, now):
                        break
                return joiner.reply()
            raw = await _read_at_most(resp, MAX_REPLY_BYTES, refuse_more=True)
        if parse is not None:  # not a completion (e.g. /tokenize)
            try:
                return parse(json.loads(raw))
            except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                raise _BadReply(f"malformed reply: {_snippet(raw)}") from None
        if stream and raw.lstrip().startswith(b"data:"):  # SSE without its Content-Type
            joiner = _StreamJoiner(started)
            for line in raw.splitlines():
                if joiner.feed(line):
                    break
            return joiner.reply()
        return parse_completion(raw)  # also a plain JSON answer to a stream request


def _token_ids(data: dict) -> list[int]:
    """llama.cpp answers [id, ...], or [{"id", "piece"}, ...] when pieces were asked for."""
    return [t["id"] if isinstance(t, dict) else int(t) for t in data["tokens"]]


class _HTTPStatus(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None):
        self.status, self.message, self.retry_after = status, message, retry_after


class _Redirect(Exception):
    def __init__(self, status: int, location: str | None):
        self.status, self.location = status, location


class _BadReply(Exception):
    pass


def _snippet(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return repr(text[:200] + ("..." if len(text) > 200 else ""))


def parse_completion(raw: bytes) -> ChatReply:
    """A /chat/completions JSON body -> ChatReply; any other shape is a _BadReply."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _BadReply(f"the reply is not JSON: {_snippet(raw)}") from None
    if isinstance(data, dict) and data.get("error"):
        raise _BadReply(f"the server answered an error with HTTP 200: {_error_message(raw)}")
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _BadReply(f"malformed completion (no choices[0] object): {_snippet(raw)}")
    choice = choices[0]
    msg = choice.get("message")
    if msg is None and isinstance(choice.get("text"), str):  # /completions
        msg = {"content": choice["text"]}
    if not isinstance(msg, dict):
        raise _BadReply(f"malformed completion (choices[0].message is not an object): {_snippet(raw)}")
    return ChatReply(content=_content(msg.get("content"), raw), tool_calls=_tool_calls(msg.get("tool_calls"), raw),
                     finish_reason=_text_or_none(choice.get("finish_reason")),
                     reasoning=_text_or_none(msg.get("reasoning_content") or msg.get("reasoning")),
                     usage=_usage(data.get("usage")), server_timings=_dict_or_none(data.get("timings")),
                     logprobs=_dict_or_none(choice.get("logprobs")))


def _dict_or_none(value: Any) -> dict | None:
    return value if isinstance(value, dict) and value else None


def _content(value: Any, raw: bytes) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: [{"type": "text", "text": ...}]
        texts = [p.get("text") for p in value if isinstance(p, dict)]
        if all(isinstance(t, str) for t in texts):
            return "".join(texts)
    raise _BadReply(f"malformed completion (message.content is neither text nor text parts): {_snippet(raw)}")


def _tool_calls(value: Any, raw: bytes) -> list[dict] | None:
    if not value:
        return None
    if not isinstance(value, list):
        raise _BadReply(f"malformed completion (tool_calls is not a list): {_snippet(raw)}")
    calls = []
    for tc in value:
        fn = tc.get("function") if isinstance(tc, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _BadReply(f"malformed completion (a tool call has no function name): {_snippet(raw)}")
        args = fn.get("arguments")
        if args is None:
            args = ""
        elif not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        call_id = tc.get("id")
        calls.append({"id": call_id if isinstance(call_id, str) else None, "type": "function",
                      "function": {"name": fn["name"], "arguments": args}})
    return calls


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _usage(value: Any) -> dict:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and not isinstance(v, (str, list))}


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", "replace")


async def _read_at_most(resp: aiohttp.ClientResponse, cap: int, refuse_more: bool = False) -> bytes:
    """The body, up to `cap` bytes: the rest is left unread, or with `refuse_more` a _BadReply."""
    if refuse_more and (resp.content_length or 0) > cap:
        raise _BadReply(f"the reply is {resp.content_length} bytes, over the {cap // 2**20} MiB a reply may be")
    blocks, size = [], 0
    async for block in resp.content.iter_any():
        blocks.append(block)
        size += len(block)
        if size > cap:
            if refuse_more:
                raise _BadReply(f"the reply is over the {cap // 2**20} MiB a reply may be; stopped reading")
            break
    return b"".join(blocks)[:cap]


async def _sse_lines(resp: aiohttp.ClientResponse):
    """(arrival time, line) of each line, reading whatever the socket has at once: a line is
    stamped when the read that completed it arrived (lines that came together share a stamp, as
    they should), and there is one await per read, not per line. A line is joined only when its
    end arrives (a huge line costs one copy, not one per read); the stream is capped like a body."""
    pending: list[bytes] = []
    size = 0
    async for block in resp.content.iter_any():
        size += len(block)
        if size > MAX_REPLY_BYTES:
            raise _BadReply(f"the stream is over the {MAX_REPLY_BYTES // 2**20} MiB a reply may be; stopped reading")
        if b"\n" not in block:
            pending.append(block)
            continue
        now = time.perf_counter()
        lines = b"".join([*pending, block]).split(b"\n")
        pending = [lines.pop()]
        for line in lines:
            yield now, line
    tail = b"".join(pending)
    if tail:
        yield time.perf_counter(), tail


class _StreamJoiner:
    """Joins SSE chunks into one reply (content, reasoning and tool-call deltas by index). A stream
    is complete only with [DONE] or a finish_reason: a connection closed before is a _BadReply.
    It notes when each delta that carries text or a tool call arrived (role-only and empty deltas
    do not count: a server that sends `{"role": "assistant"}` at once has not produced a token yet)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.times: list[float] = []
        self.timings: dict | None = None
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict] = {}
        self.finish: str | None = None
        self.usage: dict = {}
        self.done = False

    def feed(self, raw_line: bytes, now: float | None = None) -> bool:
        """One line of the event stream (arrived at `now`); True once [DONE] was seen."""
        now = time.perf_counter() if now is None else now
        if not raw_line.lstrip().startswith(b"data:"):
            return False
        line = raw_line.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            return False
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            raise _BadReply(f"malformed stream chunk: {_snippet(data)}") from None
        if not isinstance(chunk, dict):
            raise _BadReply(f"malformed stream chunk (not an object): {_snippet(data)}")
        if chunk.get("error"):
            raise _HTTPStatus(500, _error_message(json.dumps(chunk)), None)
        self.usage = _usage(chunk.get("usage")) or self.usage
        self.timings = _dict_or_none(chunk.get("timings")) or self.timings
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise _BadReply(f"malformed stream chunk (choices is not a list): {_snippet(data)}")
        for choice in choices:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(choice, dict) or not isinstance(delta, (dict, type(None))):
                raise _BadReply(f"malformed stream chunk (a choice or delta is not an object): {_snippet(data)}")
            delta = delta or {}
            if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
                self.times.append(now - self.started)
            for key, sink in (("content", self.content), ("reasoning_content", self.reasoning)):
                piece = delta.get(key)
                if piece is not None and not isinstance(piece, str):
                    raise _BadReply(f"malformed stream chunk ({key} is not text): {_snippet(data)}")
                if piece:
                    sink.append(piece)
            tool_calls = delta.get("tool_calls") or []
            if not isinstance(tool_calls, list):
                raise _BadReply(f"malformed stream chunk (tool_calls is not a list): {_snippet(data)}")
            for tc in tool_calls:
                if not isinstance(tc, dict):
                    raise _BadReply(f"malformed stream chunk (a tool call is not an object): {_snippet(data)}")
                index = tc.get("index", len(self.calls))
                slot = self.calls.setdefault(index if isinstance(index, int) else len(self.calls),
                                             {"id": None, "type": "function",
                                              "function": {"name": "", "arguments": ""}})
                if isinstance(tc.get("id"), str):
                    slot["id"] = slot["id"] or tc["id"]
                fn = tc.get("function") or {}
                if not isinstance(fn, dict):
                    raise _BadReply(f"malformed stream chunk (function is not an object): {_snippet(data)}")
                name, args = fn.get("name"), fn.get("arguments")
                # some servers repeat the name in every delta: keep it once
                if isinstance(name, str) and name and name != slot["function"]["name"]:
                    slot["function"]["name"] += name
                if args:
                    slot["function"]["arguments"] += args if isinstance(args, str) else json.dumps(args)
            if isinstance(choice.get("finish_reason"), str):
                self.finish = choice["finish_reason"]
        return False

    def reply(self) -> ChatReply:
        if not self.done and self.finish is None:
            raise _BadReply("the stream ended before [DONE] or a finish_reason (the connection was closed "
                            "mid-reply)")
        tool_calls = [self.calls[i] for i in sorted(self.calls)] or None
        if tool_calls and any(not c["function"]["name"] for c in tool_calls):
            raise _BadReply("malformed stream: a tool call has no function name")
        return ChatReply(content="".join(self.content) if self.content or not tool_calls else None,
                         tool_calls=tool_calls, finish_reason=self.finish,
                         reasoning="".join(self.reasoning) or None, usage=self.usage,
                         ttft=self.times[0] if self.times else None, chunk_times=self.times,
                         server_timings=self.timings)


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


def _error_message(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
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
