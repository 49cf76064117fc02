"""Benchmarks from other packages: the entry-point group `evalpack.benchmarks`.

A package declares, in its pyproject.toml,

    [project.entry-points."evalpack.benchmarks"]
    toy_arith = "evalpack_toy_arith:BENCHMARK"

and the object named there is a `BenchmarkInfo` (or a list of them, a function returning either,
or a Benchmark subclass whose `info` is one) whose `manifest` is the path of its manifest JSON, relative to the file of
the module the entry point names. The declaration module is imported to read it; the
implementation (`entry`) only when the benchmark runs. docs/plugins.md has the whole recipe.

Discovery happens once per process, on the first look-up of a name or a dataset dir that is not
built in (so a run of built-in benchmarks never imports a plugin). Whatever a plugin gets
wrong (its import fails, its declaration is not one, its manifest is missing or malformed, its
name is taken) becomes one warning naming the package and the problem, and its benchmarks
are remembered as broken: running one is exit 2 with that sentence; nothing else is stopped.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from evalpack.benchmarks.declaration import BenchmarkInfo, resolve_args

GROUP = "evalpack.benchmarks"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
ENTRY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class PluginBenchmark:
    info: BenchmarkInfo
    package: str  # "evalpack-toy-arith 0.1.0": what `evalpack list` shows and warnings name
    manifest: dict  # its manifest JSON, checked (datasets.registry parses it)
    bundled: str = ""  # the folder inside the installed package holding its files, if it ships them


@dataclass
class Discovery:
    benchmarks: dict[str, PluginBenchmark] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # benchmark or entry-point name -> sentence


class PluginProblem(Exception):
    """What is wrong with one plugin (becomes its warning)."""


_found: Discovery | None = None
_warned: set[str] = set()


def warn(message: str) -> None:
    """Once per process, on stderr (a listing or a run goes on)."""
    if message not in _warned:
        _warned.add(message)
        from evalpack.scrub import scrub  # here: `evalpack list` with no plugin needs no scrubber

        print(scrub(f"evalpack: warning: {message}"), file=sys.stderr)


def discover(reserved_names: set[str], reserved_dirs: set[str]) -> Discovery:
    """Every installed plugin benchmark, checked; `reserved_*`: the built-in benchmarks' names
    and dataset dirs, which a plugin cannot take (the built-in wins)."""
    global _found
    if _found is None:
        _found = Discovery()  # set first: a plugin module that looks names up does not recurse
        _load_all(_found, reserved_names, reserved_dirs)
    return _found


def reset() -> None:
    """Forget what was discovered (tests that install a plugin into the running process)."""
    global _found
    _found = None
    _warned.clear()


def none_installed() -> bool:
    """True when no installed distribution can declare the group: every sys.path entry is a
    plain folder and no *.dist-info / *.egg-info in them names it in entry_points.txt. Reading
    those few files takes ~2 ms where importing importlib.metadata and parsing every
    distribution takes ~40 (perf/list_time.py); anything unusual (a zip on sys.path) defers to
    importlib.metadata."""
    import os

    marker = f"[{GROUP}]"
    for entry in sys.path:
        folder = entry or "."
        if not os.path.isdir(folder):
            if os.path.exists(folder):
                return False  # a zip or another kind of path entry: let importlib.metadata read it
            continue
        try:
            names = os.listdir(folder)
        except OSError:
            return False
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as f:
                        if marker in f.read():
                            return False
                except (FileNotFoundError, NotADirectoryError):  # no entry points, or a PKG-INFO file
                    continue
                except OSError:
                    return False
    return True


def _load_all(found: Discovery, reserved_names: set[str], reserved_dirs: set[str]) -> None:
    if none_installed():
        return
    from importlib.metadata import entry_points

    dirs: dict[str, str] = {}  # dataset dir -> package that registered it
    for ep in sorted(entry_points(group=GROUP), key=lambda e: (_package(e), e.name)):
        package = _package(ep)
        try:
            benchmarks = _load_one(ep, package, reserved_names)
        except PluginProblem as e:
            sentence = (f"plugin {ep.name!r} of package {package} is broken: {e}; its benchmarks are not "
                        f"available (fix the package or uninstall it)")
            found.broken.setdefault(ep.name, sentence)
            for name in getattr(e, "names", ()):
                found.broken.setdefault(name, sentence)
            warn(sentence)
            continue
        for b in benchmarks:
            name, dirname = b.info.name, b.manifest["name"]
            problem = ""
            if dirname in reserved_dirs:
                warn(_taken(ep, package, f"dataset dir {dirname!r}"))
                continue
            if name in found.benchmarks:
                problem = f"benchmark name {name!r} is already declared by {found.benchmarks[name].package}"
            elif dirs.get(dirname, package) != package:
                problem = f"dataset dir {dirname!r} is already declared by {dirs[dirname]}"
            if problem:
                sentence = f"plugin {ep.name!r} of package {package} is broken: {problem}; the first one is kept"
                found.broken.setdefault(name, sentence)
                warn(sentence)
                continue
            dirs[dirname] = package
            found.benchmarks[name] = b


def _package(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else f"(the package of {ep.module})"


def _taken(ep, package: str, what: str) -> str:
    return (f"plugin {ep.name!r} of package {package} declares the {what}, which a built-in benchmark uses; "
            f"the built-in one is kept (rename the plugin's)")


def _load_one(ep, package: str, reserved_names: set[str]) -> list[PluginBenchmark]:
    try:
        value = ep.load()
    except (Exception, SystemExit) as e:  # noqa: BLE001 - another package's import: any error is its own
        raise PluginProblem(f"importing {ep.value} failed ({type(e).__name__}: {e})") from None
    infos = _infos(value, ep)
    base = _module_dir(ep.module)
    out = []
    for info in infos:
        if info.name in reserved_names:
            warn(_taken(ep, package, f"benchmark name {info.name!r}"))
            continue
        try:
            out.append(replace(_checked(info, base), package=package))
        except PluginProblem as e:
            e.names = [i.name for i in infos]  # type: ignore[attr-defined]
            raise
    return out


def _infos(value, ep) -> list[BenchmarkInfo]:
    if callable(value) and not isinstance(value, type):  # a function that builds the declarations
        try:
            value = value()
        except Exception as e:  # noqa: BLE001 - another package's code
            raise PluginProblem(f"calling {ep.value}() failed ({type(e).__name__}: {e})") from None
    if isinstance(value, type) and isinstance(getattr(value, "info", None), BenchmarkInfo):
        info = value.info  # the "module:Class" form: the class carries its declaration
        entry = f"{value.__module__}:{value.__qualname__}"
        if info.entry and info.entry != entry:
            raise PluginProblem(f"{entry}.info.entry is {info.entry!r}, not the class itself")
        return [replace(info, entry=entry)]
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    bad = [x for x in items if not isinstance(x, BenchmarkInfo)]
    if bad or not items:
        raise PluginProblem(f"{ep.value} is {_kind(bad[0] if bad else value)}, not a BenchmarkInfo (or a list of "
                            f"them, or a Benchmark class with an `info`)")
    return items


def _kind(value) -> str:
    return f"a {type(value).__name__}" if not isinstance(value, type) else f"the class {value.__name__}"


def _module_dir(module: str) -> Path:
    file = getattr(sys.modules.get(module), "__file__", None)
    return Path(file).resolve().parent if file else Path.cwd()


def _checked(info: BenchmarkInfo, base: Path) -> PluginBenchmark:
    if not NAME.fullmatch(info.name):
        raise PluginProblem(f"benchmark name {info.name!r} is not a command-line name (letters, digits, _ . -)")
    if not ENTRY.fullmatch(info.entry or ""):
        raise PluginProblem(f"{info.name}: entry {info.entry!r} is not \"module:Class\"")
    try:
        resolve_args(info, {})  # every default fits its own declaration
    except Exception as e:  # noqa: BLE001 - a bad declaration, whatever the validator raised
        raise PluginProblem(f"{info.name}: its dataset-args declaration is wrong ({e})") from None
    if not info.manifest:
        raise PluginProblem(f"{info.name}: the declaration has no manifest (BenchmarkInfo(manifest=\"FILE.json\"), "
                            f"the files with their sha256, see docs/plugins.md)")
    path = Path(info.manifest) if Path(info.manifest).is_absolute() else base / info.manifest
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PluginProblem(f"{info.name}: its manifest {path} cannot be read ({e.strerror or e})") from None
    except ValueError as e:
        raise PluginProblem(f"{info.name}: its manifest {path} is not valid JSON ({e})") from None
    problem = manifest_problem(data, info)
    if problem:
        raise PluginProblem(f"{info.name}: its manifest {path} {problem}")
    data = {**data, "benchmarks": data.get("benchmarks") or [info.name]}
    bundled = ""
    if data.get("bundled"):
        folder = (path.parent / data["bundled"]).resolve()
        if not folder.is_dir():
            raise PluginProblem(f"{info.name}: its manifest's bundled folder {folder} is not in the package")
        bundled = str(folder)
    return PluginBenchmark(info=info, package="", manifest=data, bundled=bundled)


def manifest_problem(data, info: BenchmarkInfo) -> str:
    """What makes a plugin's manifest unusable, as the rest of a sentence, or ""."""
    if not isinstance(data, dict):
        return "is not a JSON object"
    if data.get("name") != info.dirname:
        return (f"is for the dataset dir {data.get('name')!r}, but the benchmark reads {info.dirname!r} "
                f"(its data_dirname, default its name)")
    if not NAME.fullmatch(info.dirname):
        return f"names the dataset dir {info.dirname!r}, which is not a plain folder name"
    benchmarks = data.get("benchmarks")
    if benchmarks is not None and (not isinstance(benchmarks, list) or info.name not in benchmarks):
        return f"lists the benchmarks {benchmarks!r}, not {info.name!r}"
    files = data.get("files")
    if not isinstance(files, list) or not files:
        return "has no list of files"
    for i, f in enumerate(files):
        if not isinstance(f, dict) or not isinstance(f.get("path"), str) or not f["path"]:
            return f"file {i + 1} has no path"
        p = PurePosixPath(f["path"])
        if p.is_absolute() or ".." in p.parts:
            return f"file {f['path']!r} leaves the dataset dir"
        if not isinstance(f.get("sha256"), str) or not SHA256.fullmatch(f["sha256"]):
            return f"file {f['path']!r} has no sha256 (64 lowercase hex digits)"
        if isinstance(f.get("size"), bool) or not isinstance(f.get("size"), int) or f["size"] < 0:
            return f"file {f['path']!r} has no size in bytes"
    for key in ("records", "source"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"has a {key} value that is not an object"
    if data.get("kit"):
        return "names a kit hook, which only built-in datasets may"
    if "bundled" in data and not isinstance(data["bundled"], str):
        return "has a bundled value that is not a folder name"
    return ""
