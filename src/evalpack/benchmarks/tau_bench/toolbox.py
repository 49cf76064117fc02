"""Tool registry shared by the two tau-bench domains.

Upstream calls every tool as `Tool.invoke(data=db, **arguments)` and turns any
exception into the observation `"Error: <exception text>"`. The agent reads that
text, so a bad call here must produce the same words: argument-binding errors are
formatted the way CPython 3.10-3.12 words them for upstream's `<Class>.invoke`, and
the tool bodies touch the database in upstream's order so that a KeyError or
TypeError on malformed arguments carries the same text.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any, Callable

ToolFn = Callable[..., str]


class Toolbox:
    """The tools of one domain: name -> function(data, **arguments) -> str."""

    def __init__(self) -> None:
        self.functions: dict[str, ToolFn] = {}
        self.upstream_names: dict[str, str] = {}
        self.params: dict[str, list[inspect.Parameter]] = {}

    def register(self, name: str, upstream_class: str) -> Callable[[ToolFn], ToolFn]:
        def wrap(fn: ToolFn) -> ToolFn:
            self.functions[name] = fn
            self.upstream_names[name] = f"{upstream_class}.invoke"
            self.params[name] = list(inspect.signature(fn).parameters.values())[1:]  # minus data
            return fn
        return wrap

    def include(self, other: "Toolbox") -> None:
        self.functions.update(other.functions)
        self.upstream_names.update(other.upstream_names)
        self.params.update(other.params)

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def invoke(self, name: str, data: dict, arguments: Any) -> str:
        """Run one tool call as upstream's `Env.step` does; never raises."""
        if name not in self.functions:
            return f"Unknown action {name}"
        if not isinstance(arguments, dict):
            # upstream validates arguments as a dict before stepping; it would crash the
            # episode here, we tell the agent instead
            return "Error: tool arguments must be a JSON object"
        problem = self._binding_error(name, arguments)
        if problem:
            return f"Error: {problem}"
        try:
            result = self.functions[name](data, **arguments)
        except Exception as e:  # noqa: BLE001 - upstream reports every exception to the agent
            return f"Error: {e}"
        return str(result)

    def _binding_error(self, name: str, arguments: dict) -> str | None:
        qualname = self.upstream_names[name]
        params = self.params[name]
        known = {p.name for p in params}
        if "data" in arguments:
            return f"{qualname}() got multiple values for keyword argument 'data'"
        for key in arguments:
            if key not in known:
                return f"{qualname}() got an unexpected keyword argument '{key}'"
        missing = [p.name for p in params
                   if p.default is inspect.Parameter.empty and p.name not in arguments]
        if missing:
            quoted = [f"'{m}'" for m in missing]
            if len(quoted) == 1:
                names = quoted[0]
            elif len(quoted) == 2:
                names = f"{quoted[0]} and {quoted[1]}"
            else:
                names = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
            plural = "s" if len(missing) > 1 else ""
            return f"{qualname}() missing {len(missing)} required positional argument{plural}: {names}"
        return None


# --- the three tools both domains share -------------------------------------------------

COMMON = Toolbox()

_CALC_CHARS = "0123456789+-*/(). "
_MAX_EXPONENT = 10_000  # upstream's eval would hang on 9**9**9; such calls get an error instead


@COMMON.register("calculate", "Calculate")
def calculate(data: dict, expression: str) -> str:
    if not all(char in _CALC_CHARS for char in expression):
        return "Error: invalid characters in expression"
    try:
        if not isinstance(expression, str):  # e.g. an empty list: eval refuses it, in its own words
            return str(eval(expression, {"__builtins__": None}, {}))
        # only digits, operators, dots and brackets can reach here, so eval sees no names
        tree = ast.parse(expression.strip(" "), filename="<string>", mode="eval")
        if not _small_powers(tree):
            return "Error: exponent too large"
        value = eval(compile(tree, "<string>", "eval"), {"__builtins__": None}, {})
        return str(round(float(value), 2))
    except Exception as e:  # noqa: BLE001 - the message is the observation
        return f"Error: {e}"


def _small_powers(tree: ast.AST) -> bool:
    """True when every `**` has a literal exponent of modest size and no power below it."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, (ast.USub, ast.UAdd)):
                exponent = exponent.operand
            if not (isinstance(exponent, ast.Constant) and abs(exponent.value) <= _MAX_EXPONENT):
                return False
            if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node.left)):
                return False
    return True


@COMMON.register("think", "Think")
def think(data: dict, thought: str) -> str:
    return ""  # a scratchpad: nothing changes, nothing is returned


@COMMON.register("transfer_to_human_agents", "TransferToHumanAgents")
def transfer_to_human_agents(data: dict, summary: str) -> str:
    return "Transfer successful"


TERMINATING_TOOLS = ("transfer_to_human_agents",)
