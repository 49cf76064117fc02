"""A wheelhouse of evalpack and all its dependencies for another machine's platform.

pip does the work (it is the ordinary client of the package index, honours the
user's index/proxy settings, and knows platform tags): `pip wheel --no-deps`
builds evalpack's own wheel from the source tree, then `pip download` of that
wheel resolves its dependencies for the target (--platform, --python-version)
as binary wheels only, since the target may have no compiler.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from evalpack import __version__
from evalpack.errors import EvalpackError


def source_tree() -> Path | None:
    """The checkout evalpack runs from, if it runs from one (src layout)."""
    import evalpack

    root = Path(evalpack.__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "evalpack"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def pip(*args: str, log=None) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    if log:
        log("  $ " + " ".join(cmd[2:]))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise EvalpackError(f"`pip {args[0]}` failed while building the wheelhouse:\n{tail}")


def build_wheelhouse(dest: Path, platforms: list[str], python_version: str | None, extras: list[str] = (),
                     log=None) -> list[dict]:
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("evalpack-*.whl"):
        old.unlink()  # a stale build of evalpack itself would shadow the new one
    src = source_tree()
    if src is not None:
        pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(dest), str(src), log=log)
    else:  # an installed evalpack: take its published wheel
        pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(dest), f"evalpack=={__version__}", log=log)
    own = sorted(dest.glob("evalpack-*.whl"))
    if not own:
        raise EvalpackError(f"no evalpack wheel was produced in {dest}")
    target = [arg for p in platforms for arg in ("--platform", p)]
    if python_version:
        target += ["--python-version", python_version]
    wanted = f"{own[-1]}[{','.join(extras)}]" if extras else str(own[-1])
    pip("download", "--only-binary=:all:", "--quiet", "--dest", str(dest), *target, wanted, log=log)
    if target:
        # pip evaluates dependency markers against the Python running it, not the target
        # (pypa/pip#6636): add what the target's markers ask for, until nothing is missing
        env = marker_environment(platforms, python_version)
        for _ in range(5):
            missing = missing_requirements(dest, env, extras)
            if not missing:
                break
            pip("download", "--only-binary=:all:", "--quiet", "--dest", str(dest), *target, *missing, log=log)
        else:
            raise EvalpackError(f"the wheelhouse still lacks {', '.join(missing)} for the target")
    return [{"name": w.name, "size": w.stat().st_size, "sha256": hashlib.sha256(w.read_bytes()).hexdigest()}
            for w in sorted(dest.glob("*.whl"))]


def _packaging():
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # pip always carries a copy
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name
    return Requirement, canonicalize_name


def marker_environment(platforms: list[str], python_version: str | None) -> dict:
    """PEP 508 marker values of the target machine, from its pip platform tag and Python version."""
    import platform as host

    env = {"implementation_name": "cpython", "platform_python_implementation": "CPython",
           "python_version": ".".join(host.python_version_tuple()[:2]),
           "python_full_version": host.python_version(), "os_name": "posix", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": host.machine(), "platform_release": "",
           "platform_version": "", "implementation_version": host.python_version()}
    if python_version:
        v = python_version if "." in python_version else f"{python_version[0]}.{python_version[1:]}"
        full = v if v.count(".") == 2 else v + ".0"
        env.update(python_version=".".join(v.split(".")[:2]), python_full_version=full, implementation_version=full)
    if platforms:
        tag = platforms[0]
        if tag.startswith("win"):
            env.update(os_name="nt", sys_platform="win32", platform_system="Windows",
                       platform_machine={"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}.get(tag, "AMD64"))
        elif tag.startswith("macosx"):
            env.update(sys_platform="darwin", platform_system="Darwin", platform_machine=tag.split("_", 3)[-1])
        else:  # linux_*, manylinux*_<arch>, musllinux_*_<arch>
            env.update(platform_machine="x86_64" if tag.endswith("x86_64") else tag.rsplit("_", 1)[-1])
    return env


def missing_requirements(dest: Path, env: dict, extras: list[str] = ()) -> list[str]:
    """Requirements of the wheels in dest that apply on the target but have no wheel in dest
    (evalpack's own extras included)."""
    import zipfile

    Requirement, canonical = _packaging()
    wheels = list(dest.glob("*.whl"))
    have = {canonical(w.name.split("-")[0]) for w in wheels}
    missing: dict[str, str] = {}
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            lines = z.read(meta).decode("utf-8", "replace").split("\n\n", 1)[0].splitlines()
        for line in lines:
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            own_extras = extras if canonical(w.name.split("-")[0]) == "evalpack" else ()
            if req.marker and not any(req.marker.evaluate({**env, "extra": e}) for e in ("", *own_extras)):
                continue
            name = canonical(req.name)
            if name not in have:
                missing[name] = f"{req.name}{req.specifier}"
    return sorted(missing.values())
