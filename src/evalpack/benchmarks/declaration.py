"""How a benchmark is declared: its metadata and its dataset-args, as plain data.

`evalpack.benchmarks.registry` holds one `BenchmarkInfo` per benchmark; `evalpack list`,
the README table, `evalpack list NAME` and the argument check all read it without importing
any benchmark module. `resolve_args` is the one validator of --dataset-args: every mistake
becomes one UsageError sentence (exit 2) naming the key, what it must be and what was given.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from typing import Any

from evalpack.errors import UsageError

# "int" | "float" | "str" | "bool" | "list[str]" | "object" | "any"
TYPES = {"int", "float", "str", "bool", "list[str]", "object", "any"}
MAX_REPEATS = 1000  # samples per question; beyond this a run is a mistake, not a plan


@dataclass(frozen=True)
class Arg:
    """One key of --dataset-args '{"<benchmark>": {...}}'."""

    name: str
    type: str
    default: Any = None
    help: str = ""
    min: float | None = None  # inclusive
    max: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound (a positive timeout: above=0)
    choices: tuple = ()
    pattern: str = ""  # "str": the value must match this regex (fully)
    nullable: bool = False  # null accepted (always, when the default is null)
    fields: tuple["Arg", ...] = ()  # "object": the keys it may hold
    open: bool = False  # "object": any keys (e.g. request parameters for another model)
    run_default: str = ""  # null means this run setting (RunConfig attribute), e.g. "seed"
    secret: bool = False  # never shown or stored (the runner redacts it)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise TypeError(f"Arg {self.name}: unknown type {self.type!r}")

    def describe(self) -> str:
        """`int 0..5`, `one of 0shot, cot`, ... for `evalpack list NAME` and the docs."""
        if self.choices:
            kind = "one of " + ", ".join(map(str, self.choices))
        elif self.type == "object" and self.fields:
            kind = "object: " + ", ".join(f.name for f in self.fields)
        else:
            kind = self.type
            lo = self.min if self.min is not None else (f">{self.above:g}" if self.above is not None else None)
            if lo is not None or self.max is not None:
                kind += f" {'' if lo is None else lo}..{'' if self.max is None else self.max}"
        return kind + (" or null" if self.nullable or (self.default is None and self.type != "any") else "")


@dataclass(frozen=True)
class TableRow:
    """The README benchmark table's prose cells (`evalpack list --markdown` adds name and links)."""

    size: str  # split and size, e.g. "test, 14,042 (57 subjects)"
    shots: str
    prompt: str
    metrics: str  # what is reported: metric and breakdowns
    doc: str = ""  # the docs/ page with the details ("knowledge.md"), or a few words ("below")


@dataclass(frozen=True)
class BenchmarkInfo:
    """Everything about a benchmark that needs no code: the registry's entry for it."""

    name: str  # command-line name, EvalScope's (e.g. "mmlu")
    entry: str  # "module:Class" of the implementation, imported only to run it
    title: str
    description: str
    metric: str = "accuracy"
    split: str = "test"
    subsets: tuple[str, ...] = ()
    data_dirname: str = ""  # <dataset-dir>/<data_dirname>/ (default: name)
    args: tuple[Arg, ...] = ()  # this benchmark's own dataset-args (the common ones are added)
    prompt_fields: tuple[str, ...] = ()  # placeholders of prompt_template; () = no prompt_template
    system_prompt: bool = False  # system_prompt is sent as the first message
    aliases: tuple[str, ...] = ()  # other names EvalScope users type for it
    user_data: bool = False  # reads a user's own files (local_path), checked row by row: no manifest
    # a plugin's manifest JSON, relative to the module its entry point names (docs/plugins.md);
    # built-in benchmarks have theirs in evalpack/datasets/manifests/<dirname>.json
    manifest: str = ""
    table: TableRow | None = None  # its README row (None: made from description and metric)
    # custom Ray resources a node must offer to take this benchmark's samples (--ray), e.g. ("docker",)
    node_resources: tuple[str, ...] = ()

    @property
    def dirname(self) -> str:
        return self.data_dirname or self.name

    def all_args(self) -> list[Arg]:
        """Declared args, then the common ones (in the order resolved args have always had)."""
        own = {a.name: a for a in self.args}
        out = [own.pop("subset_list", None) or _subset_arg(self)] + list(own.values())
        names = {a.name for a in out}
        out += [a for a in common_args(self) if a.name not in names]
        return out


def _subset_arg(info: BenchmarkInfo) -> Arg:
    return Arg("subset_list", "list[str]", None, "subsets to run (default: all); see `evalpack list "
               f"{info.name}`", choices=info.subsets)


def common_args(info: BenchmarkInfo) -> list[Arg]:
    out = [
        Arg("extra_params", "object", {}, "benchmark-specific options (none for this benchmark)"),
        Arg("repeats", "int", 1, "answers per question (each scored; the report averages them)",
            min=1, max=MAX_REPEATS),
        Arg("seed", "int", None, "seed of this benchmark's shuffles (default: the run's --seed)",
            min=0, max=2**63 - 1, run_default="seed"),
        Arg("local_path", "str", None, "folder holding this benchmark's files, instead of "
            "<dataset-dir>/" + info.dirname),
        Arg("dataset_id", "str", None, "accepted for EvalScope configs and ignored: evalpack reads "
            "only local files (use local_path or --dataset-dir)"),
        Arg("reasoning_tags", "list[str]", None, "start and end tag of inline reasoning (default "
            "[\"<think>\", \"</think>\"]); the answer follows the last end tag, a reply ending "
            "inside the reasoning has none"),
    ]
    if info.prompt_fields:
        out.append(Arg("prompt_template", "str", None, "the user prompt; placeholders: "
                       + ", ".join("{" + f + "}" for f in info.prompt_fields)))
    if info.system_prompt:
        out.append(Arg("system_prompt", "str", None, "sent as a system message before the prompt"))
    return out


# keys resolved args always carry, and keys present only when the user gives them
_ALWAYS = ("subset_list", "extra_params", "repeats", "seed", "local_path")


def resolve_args(info: BenchmarkInfo, user_args: Any) -> dict:
    """Defaults merged with the user's --dataset-args for this benchmark, each value checked."""
    where = f"--dataset-args: {info.name}"
    if user_args is None:
        user_args = {}
    if not isinstance(user_args, dict):
        raise UsageError(f"{where}: the value must be an object, e.g. '{{\"{info.name}\": {{...}}}}', "
                         f"got {_show(user_args)}")
    declared = {a.name: a for a in info.all_args()}
    args: dict = {}
    for a in declared.values():
        if a.name in _ALWAYS or a.name in {x.name for x in info.args}:
            args[a.name] = dict(a.default) if isinstance(a.default, dict) else a.default
    for key, value in user_args.items():
        arg = declared.get(key)
        if arg is None:
            raise UsageError(f"--dataset-args: unknown key {key!r} for {info.name}{_rejected_hint(info, key)}; "
                             f"known keys: {', '.join(sorted(declared))}")
        if isinstance(args.get(key), dict) and isinstance(value, dict):
            args[key] = {**args[key], **value}
        else:
            args[key] = value
    for key in list(args):
        args[key] = check(declared[key], args[key], f"{where} {key}")
    tags = args.get("reasoning_tags")
    if tags is not None and (len(tags) != 2 or not all(t.strip() for t in tags)):
        raise UsageError(f"{where} reasoning_tags must be two non-empty tags, e.g. [\"<think>\", "
                         f"\"</think>\"], got {_show(tags)}")
    if args.get("prompt_template") is not None:
        check_template(args["prompt_template"], info.prompt_fields, where)
    return args


def _rejected_hint(info: BenchmarkInfo, key: str) -> str:
    if key == "prompt_template":
        return f" ({info.name} builds its prompts from the dataset's own templates; prompt_template has no meaning here)"
    if key == "system_prompt":
        return f" ({info.name}'s conversation fixes its own system message; system_prompt has no meaning here)"
    return ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(arg: Arg, value: Any, where: str) -> Any:
    """The value if it fits the declaration (a str subset_list becomes a list), else UsageError."""
    if value is None:
        if arg.nullable or arg.default is None or arg.type == "any":
            return None
        raise UsageError(f"{where} must be {_kind(arg)}, got null")
    kind = arg.type
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where} must be {_kind(arg)}, got {_show(value)}")
        _check_range(arg, value, where)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"{where} must be {_kind(arg)}, got {_show(value)}")
        if not math.isfinite(value):
            raise UsageError(f"{where} must be a finite number, got {value}")
        _check_range(arg, value, where)
    elif kind == "str":
        if not isinstance(value, str):
            raise UsageError(f"{where} must be {_kind(arg)}, got {_show(value)}")
        if arg.pattern and not re.fullmatch(arg.pattern, value):
            raise UsageError(f"{where} must be {_kind(arg)}, got {_show(value)}")
    elif kind == "bool":
        if not isinstance(value, bool):
            raise UsageError(f"{where} must be true or false, got {_show(value)}")
    elif kind == "list[str]":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise UsageError(f"{where} must be a list of names, e.g. [\"{(arg.choices or ('name',))[0]}\"], "
                             f"got {_show(value)}")
        unknown = [v for v in items if arg.choices and v not in arg.choices]
        if unknown:
            noun = "subset" if arg.name == "subset_list" else "value"
            raise UsageError(f"{where.rsplit(' ', 1)[0]} has no {noun} {', '.join(map(repr, unknown))}; "
                             f"choose from: {', '.join(arg.choices)}")
        return items  # one name is a list of one
    elif kind == "object":
        if not isinstance(value, dict):
            raise UsageError(f"{where} must be an object {{...}}, got {_show(value)}")
        if not arg.open:
            fields = {f.name: f for f in arg.fields}
            for key in value:
                if key not in fields:
                    known = ", ".join(sorted(fields)) or "none"
                    raise UsageError(f"{where} has no key {key!r} (unknown {arg.name} key); known keys: {known}")
            return {k: check(fields[k], v, f"{where}.{k}") for k, v in value.items()}
        return value
    if arg.choices and kind != "list[str]" and value not in arg.choices:
        raise UsageError(f"{where} must be one of {', '.join(map(str, arg.choices))}, got {_show(value)}")
    return value


def _kind(arg: Arg) -> str:
    if arg.choices:
        return "one of " + ", ".join(map(str, arg.choices))
    noun = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
            "list[str]": "a list of names", "object": "an object", "any": "a value"}[arg.type]
    if arg.pattern:
        noun += f" matching {arg.pattern}"
    if arg.type == "int" and arg.min == 1 and arg.max is None:
        noun = "a positive integer"
    elif arg.min is not None and arg.max is not None:
        noun += f" between {arg.min:g} and {arg.max:g}"
    elif arg.min is not None:
        noun += f" >= {arg.min:g}"
    elif arg.above is not None:
        noun += f" > {arg.above:g}"
    elif arg.max is not None:
        noun += f" <= {arg.max:g}"
    return noun


def _check_range(arg: Arg, value: float, where: str) -> None:
    if ((arg.min is not None and value < arg.min) or (arg.max is not None and value > arg.max)
            or (arg.above is not None and value <= arg.above)):
        raise UsageError(f"{where} must be {_kind(arg)}, got {_show(value)}")


def check_template(template: str, fields: tuple[str, ...], where: str) -> None:
    """Every {placeholder} of a user's prompt_template is one the benchmark fills."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise UsageError(f"{where} prompt_template is not a valid template ({e}); write a literal "
                         f"brace as {{{{ or }}}}") from None
    known = ", ".join("{" + f + "}" for f in fields)
    for _literal, name, _spec, _conv in parsed:
        if name is None:
            continue
        root = re.split(r"[.\[]", name, maxsplit=1)[0]
        if root not in fields:
            shown = "{" + name + "}" if name else "{}"
            raise UsageError(f"{where} prompt_template has the unknown placeholder {shown}; "
                             f"it may use {known} (write a literal brace as {{{{ or }}}})")
