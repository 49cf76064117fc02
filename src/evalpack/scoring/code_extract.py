"""Find the program in a chat reply: fenced blocks, bare code, or code wrapped in prose."""

from __future__ import annotations

import ast
import re

# An opening fence (``` or ~~~, optional language tag), its body, and the matching closing
# fence or the end of the reply (a reply cut off by max_tokens has no closing fence).
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+#.-]*)[^\n]*\n(?P<body>.*?)"
    r"(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.DOTALL | re.MULTILINE)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "pycon", "ipython"}
_CODE_START = re.compile(r"^(def |async def |class |import |from |@|[A-Za-z_]\w*\s*=)")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag in lower case, body) of every fenced block, in order."""
    return [(m.group("lang").lower(), m.group("body")) for m in _FENCE.finditer(text)]


def defines(code: str, name: str) -> bool:
    return re.search(rf"^(async\s+)?def\s+{re.escape(name)}\s*\(", code, re.MULTILINE) is not None


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _code_in_prose(text: str) -> str:
    """Unfenced reply: drop prose lines before the code and after it."""
    if parses(text):
        return text
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), None)
    if start is None:
        return text
    lines = lines[start:]
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end])
        if parses(candidate):
            return candidate + "\n"
    return "\n".join(lines) + "\n"


def extract_code(text: str | None, entry_point: str | None = None) -> str:
    """The code a reply offers. With several blocks, the one defining `entry_point` wins,
    then the first Python-looking block; without fences, the code is cut out of the prose."""
    if not text:
        return ""
    blocks = fenced_blocks(text)
    python_blocks = [body for lang, body in blocks if lang in _PYTHON_TAGS]
    candidates = python_blocks or [body for _, body in blocks]
    if candidates:
        if entry_point:
            for body in candidates:
                if defines(body, entry_point):
                    return body
        return candidates[0]
    return _code_in_prose(text)


def drop_main_guard(code: str) -> str:
    """Remove top-level `if __name__ == "__main__":` blocks: the reference harness exec()s the
    program where __name__ is not "__main__", so demo code there never runs."""
    return _drop_top_level(code, lambda node: isinstance(node, ast.If) and _is_main_test(node.test))


def drop_asserts(code: str) -> str:
    """Remove top-level assert statements (a model restating, or inventing, the tests)."""
    return _drop_top_level(code, lambda node: isinstance(node, ast.Assert))


def _drop_top_level(code: str, drop) -> str:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.splitlines(keepends=True)
    for node in reversed(tree.body):
        if drop(node):
            del lines[node.lineno - 1: node.end_lineno]
    return "".join(lines)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    consts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and consts == ["__main__"]


def as_function_body(code: str) -> str:
    """Body-only completions are appended under the prompt's signature: make sure they are
    indented (a model often returns `return x` flush left)."""
    lines = code.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first or first[0] in " \t":
        return code if code.endswith("\n") else code + "\n"
    return "".join(("    " + line if line.strip() else line) + "\n" for line in lines)
