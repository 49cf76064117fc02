"""The software part of a kit: evalpack's wheelhouse and how to install it with no network.

The isolated machine has no evalpack yet when the kit arrives, so installing must need
nothing but `tar`, `sha256sum` and the target's Python: the kit carries `SHA256SUMS`
(checked before pip sees a wheel), `install.sh` (verify, venv, `pip --no-index`) and
`INSTALL.md` with the same commands spelled out. Where an evalpack already runs (an upgrade),
`evalpack unpack` extracts the wheels itself, verifying each one as it streams out.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from evalpack import __version__
from evalpack.datasets import download
from evalpack.types import DataFile

WHEELS_DIR = "wheels"


def requirement(extras: list[str]) -> str:
    return f"evalpack[{','.join(extras)}]" if extras else "evalpack"


def sha256sums(wheels: list[dict]) -> str:
    """coreutils format, paths relative to wheels/."""
    return "".join(f"{w['sha256']}  {w['name']}\n" for w in wheels)


def install_script(extras: list[str]) -> str:
    return f"""#!/bin/sh
# Offline install of evalpack {__version__} from this kit: verify every wheel, make a venv,
# install with no package index. Usage: sh install.sh [VENV_DIR]   (default: ./evalpack-venv)
set -eu
kit=$(cd "$(dirname "$0")" && pwd)
venv=${{1:-$PWD/evalpack-venv}}
python=${{PYTHON:-python3}}
(cd "$kit/{WHEELS_DIR}" && sha256sum --check --quiet ../SHA256SUMS)
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$kit/{WHEELS_DIR}" '{requirement(extras)}'
"$venv/bin/evalpack" --version
echo "installed: activate with  . $venv/bin/activate"
"""


def install_md(wheel_spec: dict, wheels: list[dict], has_datasets: bool) -> str:
    platforms = ", ".join(wheel_spec.get("platforms") or []) or "the packing machine's platform"
    python = wheel_spec.get("python_version") or "the packing machine's Python version"
    extras = list(wheel_spec.get("extras") or [])
    size = sum(w["size"] for w in wheels)
    data_step = ("\n4. The datasets in this kit:\n\n"
                 "       evalpack unpack KIT.tar --to /data/evalpack-datasets\n"
                 "       evalpack verify --dataset-dir /data/evalpack-datasets\n") if has_datasets else ""
    return f"""# Installing evalpack {__version__} offline

This kit holds {len(wheels)} wheels ({size:,} bytes): evalpack and every dependency{
        f' (with the extras {", ".join(extras)})' if extras else ''}, built for
{platforms}, Python {python}. Nothing below touches a network.

1. Unpack the kit and check every wheel against the kit's checksums:

       mkdir evalpack-kit && tar xf KIT.tar -C evalpack-kit && cd evalpack-kit
       (cd {WHEELS_DIR} && sha256sum --check --quiet ../SHA256SUMS)

2. Install into a virtual environment (Debian/Ubuntu: `apt install python3-venv` first):

       python3 -m venv ~/evalpack-venv
       ~/evalpack-venv/bin/pip install --no-index --find-links {WHEELS_DIR} '{requirement(extras)}'

   `sh install.sh ~/evalpack-venv` does steps 1 and 2.

3. Check it: `~/evalpack-venv/bin/evalpack demo` runs a whole evaluation on a built-in sample
   against a built-in mock server (no model server and no datasets needed).
{data_step}"""


def root_files(wheel_spec: dict, wheels: list[dict], has_datasets: bool) -> dict[str, bytes]:
    """Files at the kit's top level, beside manifest.json."""
    extras = list(wheel_spec.get("extras") or [])
    return {"INSTALL.md": install_md(wheel_spec, wheels, has_datasets).encode(),
            "install.sh": install_script(extras).encode(),
            "SHA256SUMS": sha256sums(wheels).encode()}


def extract_wheels(tar: tarfile.TarFile, manifest: dict, to: Path) -> tuple[int, list[str]]:
    """Stream every listed wheel into to/wheels/, renaming it into place only once its size and
    sha256 matched the manifest; wheels the manifest does not list are refused. (written, problems)"""
    listed = {f"{WHEELS_DIR}/{w['name']}": w for w in (manifest.get("wheels") or {}).get("files", [])}
    dest_dir = to / WHEELS_DIR
    written, problems, seen = 0, [], set()
    for info in tar:
        if not info.name.startswith(f"{WHEELS_DIR}/"):
            continue
        w = listed.get(info.name)
        if w is None or not info.isfile() or "/" in info.name[len(WHEELS_DIR) + 1:]:
            problems.append(f"{info.name}: not listed in the kit's manifest (refused)")
            continue
        seen.add(info.name)
        problem = download.extract_verified(tar, info, dest_dir / w["name"],
                                   DataFile(path=w["name"], sha256=w["sha256"], size=w["size"]))
        if problem:
            problems.append(f"CORRUPT {info.name}: {problem}")
        else:
            written += 1
    problems += [f"MISSING {name}: listed in the manifest, absent from the archive"
                 for name in listed if name not in seen]
    return written, problems
