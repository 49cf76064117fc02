"""`evalpack unpack` of a kit with wheels: each wheel is verified before it is renamed into place.

The kit is written here by hand (manifest + wheels/), so the test needs no package index; the real
aarch64 kit, built from PyPI and installed offline, is tests/test_arm64.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

from conftest import run_evalpack
from evalpack.datasets.pack import KIT_FORMAT
from evalpack.datasets.software_kit import root_files


def wheel(name: str, data: bytes) -> dict:
    return {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_kit(path, listed: list[dict], members: dict[str, bytes]) -> None:
    manifest = {"format": KIT_FORMAT, "evalpack_version": "0", "datasets": [],
                "wheels": {"platforms": ["manylinux2014_aarch64"], "python_version": "3.11", "extras": [],
                           "files": listed}}
    with tarfile.open(path, "w") as tar:
        for name, data in {"manifest.json": json.dumps(manifest).encode(), **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_unpack_keeps_verified_wheels_and_refuses_corrupt_and_unlisted_ones(tmp_path):
    good, bad = b"good wheel bytes", b"the bytes the manifest promised"
    listed = [wheel("good-1.0-py3-none-any.whl", good), wheel("bad-1.0-py3-none-any.whl", bad),
              wheel("gone-1.0-py3-none-any.whl", b"never packed")]
    kit = tmp_path / "software.tar"
    write_kit(kit, listed, {"wheels/good-1.0-py3-none-any.whl": good,
                            "wheels/bad-1.0-py3-none-any.whl": bad[:-1] + b"!",
                            "wheels/extra-1.0-py3-none-any.whl": b"not in the manifest"})
    proc = run_evalpack("unpack", str(kit), "--to", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    wheels = tmp_path / "out" / "wheels"
    assert sorted(p.name for p in wheels.iterdir()) == ["good-1.0-py3-none-any.whl"]
    assert (wheels / "good-1.0-py3-none-any.whl").read_bytes() == good
    assert "CORRUPT wheels/bad-1.0-py3-none-any.whl" in proc.stdout
    assert "MISSING wheels/gone-1.0-py3-none-any.whl" in proc.stdout
    assert "wheels/extra-1.0-py3-none-any.whl: not listed" in proc.stdout


def test_a_whole_software_kit_unpacks_and_says_how_to_install(tmp_path):
    data = b"evalpack wheel"
    kit = tmp_path / "software.tar"
    write_kit(kit, [wheel("evalpack-0-py3-none-any.whl", data)], {"wheels/evalpack-0-py3-none-any.whl": data})
    proc = run_evalpack("unpack", str(kit), "--to", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "1 wheels verified" in proc.stdout and "pip install --no-index --find-links" in proc.stdout


def test_install_files_check_every_wheel_before_pip():
    listed = [wheel("evalpack-0-py3-none-any.whl", b"x"), wheel("aiohttp-3-cp311-manylinux_aarch64.whl", b"y")]
    files = root_files({"platforms": ["manylinux2014_aarch64"], "python_version": "3.11", "extras": ["ifeval"]},
                       listed, has_datasets=False)
    sums = files["SHA256SUMS"].decode().splitlines()
    assert sums == [f"{w['sha256']}  {w['name']}" for w in listed]
    script = files["install.sh"].decode()
    assert script.index("sha256sum --check") < script.index("pip install")
    assert "--no-index" in script and "'evalpack[ifeval]'" in script
    guide = files["INSTALL.md"].decode()
    assert "manylinux2014_aarch64" in guide and "Python 3.11" in guide and "evalpack unpack" not in guide
