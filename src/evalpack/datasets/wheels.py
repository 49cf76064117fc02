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
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise EvalpackError(f"`pip {args[0]}` failed while building the wheelhouse:\n{tail}")


def build_wheelhouse(dest: Path, platforms: list[str], python_version: str | None, log=None) -> list[dict]:
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("evalpack-*.whl"):
        old.unlink()  # a stale build of evalpack itself would shadow the new one
    src = source_tree()
    if src is not None:
        try:
            import setuptools  # noqa: F401  (present: build without fetching a build backend)
            isolation = ["--no-build-isolation"]
        except ImportError:
            isolation = []
        pip("wheel", "--no-deps", *isolation, "--quiet", "--wheel-dir", str(dest), str(src), log=log)
    else:  # an installed evalpack: take its published wheel
        pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(dest), f"evalpack=={__version__}", log=log)
    own = sorted(dest.glob("evalpack-*.whl"))
    if not own:
        raise EvalpackError(f"no evalpack wheel was produced in {dest}")
    target = [arg for p in platforms for arg in ("--platform", p)]
    if python_version:
        target += ["--python-version", python_version]
    pip("download", "--only-binary=:all:", "--quiet", "--dest", str(dest), *target, str(own[-1]), log=log)
    return [{"name": w.name, "size": w.stat().st_size, "sha256": hashlib.sha256(w.read_bytes()).hexdigest()}
            for w in sorted(dest.glob("*.whl"))]
