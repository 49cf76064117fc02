"""Mock-server responders for TruthfulQA (chat for MC1, /v1/completions for MC2).

Chat: the responder reads the question and the shown options from the prompt, knows the
true answer from the data (read here, not through evalpack) and answers by a fixed plan:
right, wrong or unreadable, in varied styles, some with a wrong letter inside <think>.
Completions: each (question, answer) gets a log-likelihood `loglik()` known to the tests,
served the way a server of each kind would: legacy echo logprobs (vLLM-like), or refusing
echo, tokenizing on /tokenize and honouring a GBNF grammar of token ids (llama-server-like);
`chat_only` serves no completions.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DATASETS  # noqa: E402

STYLES = [
    lambda L: f"ANSWER: {L}",
    lambda L: f"The answer is ({L}).",
    lambda L: f"**ANSWER: {L}**",
    lambda L: f"<think>It could be A. ANSWER: A</think>\nANSWER: {L}",
    lambda L: f"Let me think.\nAnswer: {L}",
]
UNREADABLE = "I cannot decide between these options."
_records: list[dict] | None = None


def records() -> list[dict]:
    global _records
    if _records is None:
        _records = json.loads((DATASETS / "truthfulqa" / "data" / "v1" / "mc_task.json").read_text(encoding="utf-8"))
    return _records


def pick(key: str, n: int, salt: str = "") -> int:
    return int(hashlib.sha256((salt + key).encode()).hexdigest()[:8], 16) % n


def plan(question: str, letters: list[str], gold: str) -> tuple[str, str | None]:
    """(reply, the letter it chooses): 60% right, 30% wrong, 10% unreadable."""
    kind = pick(question, 10)
    if kind == 9:
        return UNREADABLE, None
    letter = gold if kind < 6 else letters[(letters.index(gold) + 1 + pick(question, len(letters) - 1, "w"))
                                            % len(letters)]
    return STYLES[pick(question, len(STYLES), "s")](letter), letter


def loglik(question: str, answer: str) -> float:
    """A made-up log-likelihood of " answer" after the question, known to the tests."""
    return -1.0 - pick(question + "|" + answer, 60) / 10.0


def _by_question() -> dict[str, dict]:
    return {r["question"].strip(): r for r in records()}


def _chat(body: dict) -> str:
    prompt = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    question = re.findall(r"^Q: (.*)\nA:$", prompt, flags=re.M)[-1].strip()
    record = _by_question().get(question)
    if record is None:
        return "unknown question"
    shown = dict(re.findall(r"^([A-Z])\) (.*)$", prompt, flags=re.M))
    true = next(a for a, label in record["mc1_targets"].items() if label == 1)
    gold = [L for L, text in shown.items() if text == true]
    if len(gold) != 1:
        return "options not found"
    return plan(question, list(shown), gold[0])[0]


def _split(prompt: str) -> tuple[str, str, str]:
    """(question, context, continuation) of an MC2 prompt: primer + "Q: q\\nA:" + " answer"."""
    at = prompt.rindex("\nA:") + 3
    context, continuation = prompt[:at], prompt[at:]
    question = context[context.rindex("Q: ") + 3: -3].strip()
    return question, context, continuation


def _echo_reply(body: dict) -> dict:
    prompt = body["prompt"]
    question, context, continuation = _split(prompt)
    ll = loglik(question, continuation[1:])
    half = max(1, len(continuation) // 2)
    # three prompt "tokens" (context, two halves of the answer), then the one generated token
    return {"content": " X", "logprobs": {
        "tokens": [context, continuation[:half], continuation[half:], " X"],
        "token_logprobs": [None, ll * 0.25, ll * 0.75, -0.5],
        "text_offset": [0, len(context), len(context) + half, len(prompt)],
        "top_logprobs": None}}


VOCAB: dict[str, int] = {}  # a made-up tokenizer: words with their leading space, ids by first sight
PIECES: dict[int, str] = {}


def tokenize(text: str) -> list[int]:
    ids = []
    for piece in re.findall(r" ?\S+|\s+", text):
        if piece not in VOCAB:
            VOCAB[piece] = len(VOCAB) + 10
            PIECES[VOCAB[piece]] = piece
        ids.append(VOCAB[piece])
    return ids


def _grammar_reply(body: dict) -> dict:
    ids = [int(i) for i in re.findall(r"<\[(\d+)\]>", body["grammar"])]
    answer = "".join(PIECES[i] for i in ids)
    question, _, _ = _split(body["prompt"] + answer)
    ll = loglik(question, answer[1:])
    entries = [{"id": i, "token": PIECES[i], "bytes": list(PIECES[i].encode()), "logprob": ll / len(ids),
                "top_logprobs": []} for i in ids]
    entries.append({"id": 2, "token": "", "bytes": [], "logprob": -0.01, "top_logprobs": []})  # end of text
    return {"content": answer, "logprobs": {"content": entries}}


def echo(body: dict):
    """A vLLM-like server: chat, and /v1/completions with echo."""
    if "messages" in body:
        return _chat(body)
    if not body.get("echo"):
        return {"status": 400, "content": "this test server only answers echo requests"}
    return _echo_reply(body)


def grammar(body: dict):
    """A llama-server-like one: chat, /tokenize; completions refuse echo, honour a grammar of token ids."""
    if "messages" in body:
        return _chat(body)
    if "content" in body:  # /tokenize
        return {"tokens": tokenize(body["content"])}
    if body.get("echo"):
        return {"status": 400, "content": "Only no echo is supported"}
    if "grammar" not in body:
        return {"content": " free text", "logprobs": {"content": []}}
    return _grammar_reply(body)


def chat_only(body: dict):
    """A chat-only server: no /v1/completions at all (the mock answers 404)."""
    return _chat(body) if "messages" in body else None
