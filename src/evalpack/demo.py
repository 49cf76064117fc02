"""`evalpack demo`: the whole pipeline with nothing to set up.

Starts the mock server in-process on a free 127.0.0.1 port and evaluates the
24-question MMLU sample shipped inside the package. The mock answers in a mix
of styles ("ANSWER: B", "The answer is (C).", a bit of reasoning first) so the
report shows the answer extractor at work.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from importlib import resources
from pathlib import Path

STYLES = ("ANSWER: {L}", "The answer is ({L}).", "Let me think step by step. The correct option is {L}.",
          "{L}")


def demo_responder(body: dict) -> str:
    text = body["messages"][-1]["content"]
    h = hashlib.sha256(text.encode()).digest()
    return STYLES[h[1] % len(STYLES)].format(L="ABCD"[h[0] % 4])


def run_demo(work_dir: str | None = None, quiet: bool = False) -> int:
    from evalpack.config import build_config
    from evalpack.mock import MockServer, start_in_process
    from evalpack.runner import evaluate

    ready = threading.Event()
    state: dict = {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        state["loop"] = loop
        runner, url = loop.run_until_complete(
            start_in_process(MockServer(model="mock", responder=demo_responder)))
        state["url"], state["runner"] = url, runner
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    data_dir = Path(str(resources.files("evalpack") / "data" / "demo"))
    config = build_config({
        "model": "mock", "api_url": [state["url"]], "datasets": ["mmlu"], "dataset_dir": str(data_dir),
        "dataset_args": {"mmlu": {"subset_list": ["astronomy", "high_school_geography", "world_religions"]}},
        "work_dir": work_dir, "quiet": quiet, "fresh": True,
    })
    try:
        result = evaluate(config)
    finally:
        state["loop"].call_soon_threadsafe(state["loop"].stop)
        thread.join(5)
    from evalpack.cli import print_result

    print_result(result)
    print("This was the built-in mock server answering at random. Next: point --api-url at your model "
          "server and --dataset-dir at a dataset kit (see README).")
    return 0
