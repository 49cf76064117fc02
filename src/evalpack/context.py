"""The SolveContext a benchmark gets for one (sample, repeat): its only way to the model.

Every call goes through the run store first: a request already answered in this run
directory (same body, benchmark, sample and repeat) is replayed, not sent, which is what
makes an interrupted run resumable at the level of single calls. A judge's calls
(`judge()`) are stored the same way under the sample's keys with their own role: the key
includes the role and the store's benchmark column reads "<benchmark>/judge", so they never
count as the model's calls (samples export, serving stats) and are replayed alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from evalpack.store import RunStore, call_key, canonical_json
from evalpack.types import ChatReply

if TYPE_CHECKING:  # aiohttp loads only once requests are due: data checks fail fast without it
    from evalpack.client import ModelClient
    from evalpack.config import RunConfig


class Context:
    def __init__(self, *, store: RunStore, client: "ModelClient", model: str, benchmark: str,
                 sample_id: str, repeat: int, args: dict, generation: dict,
                 client_for: Callable[[str, str | None], "ModelClient"], root: Path | None = None,
                 judge: tuple[Any, Callable[[], Any]] | None = None, role: str = "") -> None:
        self._store, self._client, self._model = store, client, model
        self._benchmark, self._sample_id = benchmark, sample_id
        self._client_for = client_for
        self._judge = judge  # (JudgeSettings, the judge client's factory), or None
        self._role = role
        self.args = args
        self.root = root  # the benchmark's data folder (SolveContext.root)
        self.generation = generation
        self.repeat = repeat
        self.seed = args.get("seed")
        self.usage: dict[str, int] = {}
        self.latency = 0.0
        self.calls = 0

    async def chat(self, messages: list[dict], *, tools: list[dict] | None = None, **params: Any) -> ChatReply:
        body: dict[str, Any] = {"model": self._model, "messages": messages}
        body.update(self.generation)
        body.update(params)
        if tools:
            body["tools"] = tools
        extra = body.pop("extra_body", None)
        if isinstance(extra, dict):
            body.update(extra)
        if body.get("stream"):
            body.setdefault("stream_options", {"include_usage": True})
        return await self._call(body, self._client.chat)

    async def complete(self, prompt: str, **params: Any) -> ChatReply:
        """One raw-prompt /completions call (no chat template), e.g. for option log-likelihoods;
        the generation config does not apply: `params` is the whole request."""
        return await self._call({"model": self._model, "prompt": prompt, **params}, self._client.complete)

    async def tokenize(self, text: str) -> list[int]:
        """The model's token ids of `text` (llama.cpp's /tokenize; not stored: it is deterministic)."""
        return await self._client.tokenize(text)

    async def _call(self, body: dict, send) -> ChatReply:
        """A stored reply for this exact request, else `send` it and store the reply."""
        canon = canonical_json(body)
        keyed = f"{self._benchmark}\x00{self._role}" if self._role else self._benchmark
        key = call_key(canon, keyed, self._sample_id, self.repeat)
        cached = self._store.get_call(key)
        if cached is not None:
            reply = ChatReply.from_json(cached)
        else:
            reply = await send(body, payload=canon.encode())
            label = f"{self._benchmark}/judge" if self._role.startswith("judge") else self._benchmark
            self._store.put_call(key, label, self._sample_id, self.repeat,
                                 canon, reply.to_json(), reply.latency)
            await self._store.durable()  # group commit: kill -9 now re-sends only what is in flight
        self.calls += 1
        self.latency += reply.latency
        for k, v in (reply.usage or {}).items():
            if isinstance(v, int):
                self.usage[k] = self.usage.get(k, 0) + v
        return reply

    def other_model(self, model: str | None = None, api_base: str | None = None,
                    api_key: str | None = None) -> "Context":
        """Another endpoint (e.g. a simulated user); its calls are stored and replayed alike."""
        client = self._client_for(api_base, api_key) if api_base else self._client
        return Context(store=self._store, client=client, model=model or self._model,
                       benchmark=self._benchmark, sample_id=self._sample_id, repeat=self.repeat,
                       args=self.args, generation=dict(self.generation), client_for=self._client_for,
                       root=self.root)

    def judge(self, attempt: int = 1) -> "Context":
        """The judge's Context for this sample (attempt n > 1: a retry, keyed apart)."""
        if self._judge is None:
            raise RuntimeError(f"{self._benchmark}: no judge is configured for this run")
        settings, client = self._judge
        return Context(store=self._store, client=client(), model=settings.model_id, benchmark=self._benchmark,
                       sample_id=self._sample_id, repeat=self.repeat, args=self.args,
                       generation=dict(settings.generation), client_for=self._client_for,
                       root=self.root, role="judge" if attempt == 1 else f"judge#{attempt}")


class Clients:
    """A run's client to the model server and one per other endpoint (a simulated user, a
    judge), configured alike; each Ray worker holds its own (ray_pool.py)."""

    def __init__(self, config: "RunConfig") -> None:
        from evalpack.client import ModelClient

        self.config = config
        self.main = ModelClient(config.api_urls, config.model, config.api_key, concurrency=config.concurrency,
                                timeout=config.timeout, retries=config.retries,
                                retry_interval=config.retry_interval, stream=bool(config.generation.get("stream")))
        self._others: dict[tuple, "ModelClient"] = {}
        self._judge: "ModelClient | None" = None

    def other(self, api_base: str, api_key: str | None) -> "ModelClient":
        """A client for another endpoint, one per (base, key)."""
        from evalpack.client import ModelClient

        key = (api_base, api_key)
        if key not in self._others:
            cfg = self.config
            self._others[key] = ModelClient([api_base], "", api_key, concurrency=cfg.concurrency,
                                            timeout=cfg.timeout, retries=cfg.retries,
                                            retry_interval=cfg.retry_interval)
        return self._others[key]

    def judge(self) -> "ModelClient":
        """The judge's client: its own connections and --judge-worker-num requests in flight."""
        from evalpack.client import ModelClient

        if self._judge is None:
            j, cfg = self.config.judge, self.config
            self._judge = ModelClient([j.api_url], j.model_id, j.api_key, concurrency=j.worker_num,
                                      timeout=j.timeout if j.timeout is not None else cfg.timeout,
                                      retries=j.retries if j.retries is not None else cfg.retries,
                                      retry_interval=cfg.retry_interval)
        return self._judge

    def context(self, store, benchmark: str, args: dict, sample_id: str, repeat: int,
                root: Path | None = None, judged: bool = False) -> Context:
        """The Context of one (sample, repeat); `store`: the run store, or what stands for it;
        `root`: the benchmark's data folder (SolveContext.root); `judged`: its `judge()` reaches
        the run's judge."""
        return Context(store=store, client=self.main, model=self.config.model, benchmark=benchmark,
                       sample_id=sample_id, repeat=repeat, args=args, generation=self.config.generation,
                       client_for=self.other, root=root,
                       judge=(self.config.judge, self.judge) if judged else None)

    async def close(self) -> None:
        for client in [self.main, *self._others.values(), *([self._judge] if self._judge else [])]:
            await client.close()
