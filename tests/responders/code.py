"""Mock-server responders for humaneval_plus, mbpp_plus and mbpp.

They read the tasks themselves (not through evalpack), find the task in the prompt and answer
with its canonical solution, a wrong one, one that is right on the base inputs only, or
hostile code. The data dir is $EVALPACK_CODE_DATA (a test's reduced copy) or the shared one.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import DATASETS  # noqa: E402


def _root() -> Path:
    return Path(os.environ.get("EVALPACK_CODE_DATA") or DATASETS)


@lru_cache(maxsize=None)
def _evalplus_tasks() -> list[dict]:
    tasks = []
    for rel in ("humanevalplus/HumanEvalPlus.jsonl.gz", "mbppplus/MbppPlus.jsonl.gz"):
        path = _root() / rel
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as f:
                tasks += [json.loads(line) for line in f if line.strip()]
    return sorted(tasks, key=lambda t: -len(t["prompt"].strip()))  # longest match first


@lru_cache(maxsize=None)
def _mbpp_tasks() -> list[dict]:
    """Test tasks of both files as {text, test_list, code}."""
    root = _root() / "mbpp"
    full = [json.loads(line) for line in (root / "mbpp.jsonl").open(encoding="utf-8") if line.strip()]
    sanitized = [{**r, "text": r["prompt"]} for r in json.loads((root / "sanitized-mbpp.json").read_text())]
    return [r for r in full + sanitized if 11 <= r["task_id"] <= 510]


def _prompt(body: dict) -> str:
    return [m for m in body["messages"] if m["role"] == "user"][-1]["content"]


def evalplus_task(body: dict) -> dict:
    text = _prompt(body)
    return next(t for t in _evalplus_tasks() if t["prompt"].strip() in text)


def mbpp_task(body: dict) -> dict:
    last = _prompt(body).rsplit("You are an expert Python programmer, and here is your task: ", 1)[-1]
    return next(r for r in _mbpp_tasks() if last.startswith(r["text"] + " Your code")
                and "\n".join(r["test_list"]) in last)


def _fenced(code: str) -> str:
    return f"Here is the solution:\n\n```python\n{code}\n```\n"


# --- evalplus (humaneval_plus, mbpp_plus) ---------------------------------------------------

def gold(body: dict) -> str:
    t = evalplus_task(body)
    return _fenced(t["prompt"] + t["canonical_solution"])


def wrong(body: dict) -> str:
    t = evalplus_task(body)
    return _fenced(f"def {t['entry_point']}(*args):\n    return None\n")


def base_only(body: dict) -> str:
    """Right on the base inputs (it remembers them), None on every other input: passes the
    original tests and fails the plus ones."""
    t = evalplus_task(body)
    name = t["entry_point"]
    return _fenced(
        t["prompt"] + t["canonical_solution"] + "\n\n"
        f"_BASE = {json.dumps(t['base_input'])!r}\n"
        f"_right = {name}\n\n"
        f"def {name}(*args):\n"
        "    import json\n"
        "    def plain(x):\n"
        "        return [plain(i) for i in x] if isinstance(x, (list, tuple)) else x\n"
        "    if plain(list(args)) in json.loads(_BASE):\n"
        "        return _right(*args)\n"
        "    return None\n")


def hostile(body: dict) -> str:
    """Forges the harness's result records and exits, or connects out, or loops forever with
    the alarm ignored, chosen by task."""
    t = evalplus_task(body)
    name = t["entry_point"]
    port = os.environ.get("EVALPACK_HOSTILE_PORT", "9")
    kind = sum(map(ord, t["task_id"])) % 2
    if kind == 0:
        forged = json.dumps({"phase": "base", "status": "ok", "outputs": [True] * 2000, "times": []})
        code = ("import os\n"
                "for fd in range(1, 64):\n"
                "    try:\n"
                f"        os.write(fd, ('\\x1eEVALPACK-PHASE ' + {forged!r} + '\\n').encode())\n"
                "    except OSError:\n"
                "        pass\n"
                "os._exit(0)\n")
    else:
        code = (f"def {name}(*args):\n"
                "    import socket\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')\n"
                "    return None\n")
    return _fenced(code)


# --- mbpp -------------------------------------------------------------------------------------

def mbpp_gold(body: dict) -> str:
    return mbpp_task(body)["code"] + "\n[DONE]"


def mbpp_gold_fenced(body: dict) -> str:
    r = mbpp_task(body)
    tests = "\n".join(r["test_list"])
    return f"```python\n{r['code']}\n\n{tests}\n```\nThese asserts pass."


def mbpp_wrong(body: dict) -> str:
    r = mbpp_task(body)
    name = r["test_list"][0].split("assert ", 1)[1].split("(", 1)[0].strip()
    return f"def {name}(*args):\n    return None\n[DONE]"
