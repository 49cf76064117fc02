"""Get a unified diff out of a model reply and check it with git before any container runs."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evalpack.scoring.reasoning import answer_text

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:\n```|\Z)", re.S)
_DIFF_START = re.compile(r"^(diff --git |--- (?:a/|/dev/null|\S))", re.M)
# lines a unified diff is made of (the body lines and git's extended headers)
_DIFF_LINE = re.compile(
    r"^(?:[ +\-\\]|@@ |diff --git |index |new file mode|deleted file mode|old mode|new mode|"
    r"similarity index|dissimilarity index|rename from|rename to|copy from|copy to|Binary files|$)")


def _looks_like_diff(text: str) -> bool:
    return bool(re.search(r"^@@ ", text, re.M)) and bool(re.search(r"^\+\+\+ ", text, re.M))


def _trim(text: str) -> str:
    """From the first diff header, keep diff lines; stop at the first line of prose."""
    m = _DIFF_START.search(text)
    if not m:
        return ""
    kept = []
    for line in text[m.start():].split("\n"):
        if not _DIFF_LINE.match(line):
            break
        kept.append(line)
    while kept and kept[-1] == "":
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


def extract_diff(reply: str | None, reasoning_tags: tuple[str, str] | None = None) -> str:
    """The diff in a reply: all fenced diff blocks joined, else the unfenced diff; "" if none."""
    if not reply:
        return ""
    reply = answer_text(reply, reasoning_tags)
    if not reply:
        return ""
    blocks = [body for lang, body in _FENCE.findall(reply)
              if lang.lower() in ("diff", "patch", "udiff", "") and _looks_like_diff(body)]
    if blocks:
        return "".join(_trim(b) for b in blocks)
    return _trim(reply) if _looks_like_diff(reply) else ""


@dataclass
class PatchCheck:
    ok: bool  # parses as a diff (git apply --stat)
    applies: bool | None  # git apply --check at base_commit; None when the repo is not at hand
    reason: str = ""
    files: tuple[str, ...] = ()


def check_patch(patch: str, git_dir: Path | None = None, base_commit: str | None = None) -> PatchCheck:
    """Parse the patch with git; with a repo, also `git apply --check` it against base_commit.

    The check uses a scratch index read from base_commit, so it needs no checkout and
    writes nothing into the repository.
    """
    if not patch.strip():
        return PatchCheck(False, False, "no diff found in the reply")
    stat = subprocess.run(["git", "apply", "--numstat", "-"], input=patch.encode(), capture_output=True,
                          cwd=tempfile.gettempdir())
    if stat.returncode != 0:
        return PatchCheck(False, False, "malformed diff: " + stat.stderr.decode(errors="replace").strip())
    files = tuple(line.split("\t", 2)[2] for line in stat.stdout.decode().splitlines() if line.count("\t") >= 2)
    if git_dir is None or base_commit is None:
        return PatchCheck(True, None, files=files)
    with tempfile.TemporaryDirectory(prefix="evalpack-index-") as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        subprocess.run(["git", f"--git-dir={git_dir}", "read-tree", base_commit], env=env, check=True,
                       capture_output=True)
        proc = subprocess.run(["git", f"--git-dir={git_dir}", "apply", "--check", "--cached", "-"],
                              input=patch.encode(), env=env, capture_output=True)
    if proc.returncode != 0:
        return PatchCheck(True, False, "git apply --check: " + proc.stderr.decode(errors="replace").strip(),
                          files)
    return PatchCheck(True, True, files=files)
