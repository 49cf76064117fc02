"""The software is offline too: a kit's wheelhouse installs evalpack into a fresh venv with
`pip install --no-index` and the installed copy unpacks, verifies and runs the demo.

Slow (one venv, ~30-60 s): `pack --wheels` asks the package index for the dependencies,
exactly as on a connected machine. Where a second CPython is available (pyenv), the
wheelhouse is built for it (--platform manylinux2014_<arch> --python-version X.Y) from
this interpreter, which is the cross-target case of the aarch64 / Python 3.10 servers.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import run_evalpack
from hub_server import HubServer


def other_python() -> tuple[str, list[str]]:
    """(interpreter for the venv, pack flags that target it)."""
    pyenv = shutil.which("pyenv")
    if pyenv and platform.system() == "Linux":
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        for candidate in sorted(Path(root, "versions").glob("3.10.*/bin/python3")):
            if candidate.is_file():
                return str(candidate), ["--platform", f"manylinux2014_{platform.machine()}", "--python-version", "3.10"]
    return sys.executable, []


def clean_env(**extra: str) -> dict:
    """No PYTHONPATH to this checkout and no pip config (e.g. local find-links): only the kit counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON", "EVALPACK_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, **extra)
    return env


def test_wheelhouse_installs_with_no_index_and_runs_the_demo(datasets_dir, tmp_path):
    python, target = other_python()
    hub = HubServer(datasets_dir)
    try:
        kit = tmp_path / "kit.tar"
        proc = run_evalpack("pack", "--datasets", "gsm8k", "humaneval", "--hub-base", hub.url, "--wheels",
                            *target, "--out", str(kit), timeout=900)
        assert proc.returncode == 0, proc.stderr
    finally:
        hub.stop()
    print(f"kit {kit.stat().st_size:,} bytes for {python} {' '.join(target)}")

    site = tmp_path / "isolated"
    site.mkdir()
    subprocess.run(["tar", "xf", str(kit), "wheels"], cwd=site, check=True)
    wheels = sorted(p.name for p in (site / "wheels").iterdir())
    assert any(w.startswith("evalpack-") for w in wheels) and any(w.startswith("aiohttp-") for w in wheels)
    env = clean_env(HOME=str(tmp_path / "home"))
    subprocess.run([python, "-m", "venv", str(site / "venv")], check=True, env=env)
    bin_ = site / "venv" / "bin"
    proc = subprocess.run([str(bin_ / "pip"), "install", "--no-index", "--find-links", "wheels", "evalpack"],
                          cwd=site, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    def evalpack(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(bin_ / "evalpack"), *args], cwd=site, capture_output=True, text=True, env=env,
                              timeout=300)

    where = subprocess.run([str(bin_ / "python"), "-c", "import evalpack; print(evalpack.__file__)"],
                           cwd=site, capture_output=True, text=True, env=env).stdout
    assert str(site / "venv") in where  # the installed copy, not this checkout
    proc = evalpack("unpack", str(kit), "--to", "data")
    assert proc.returncode == 0 and "2 files written" in proc.stdout, proc.stdout + proc.stderr
    proc = evalpack("verify", "--dataset-dir", "data")
    assert proc.returncode == 0 and "gsm8k: 1 files checked, ok" in proc.stdout, proc.stdout + proc.stderr
    proc = evalpack("demo", "--work-dir", "out", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "| mock" in proc.stdout and "mmlu" in proc.stdout
