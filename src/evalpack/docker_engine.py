"""The one Docker-engine module: find a working engine (or say exactly what to install and how
to start it), run docker CLI commands, and ask which images are present locally.

Used by the container sandbox (`--sandbox docker`) and by SWE-bench (images, harness, agent).
Nothing here pulls or builds: what reaches the network is decided by the callers.
"""

from __future__ import annotations

import json
import shutil
import subprocess

from evalpack.errors import EvalpackError

INSTALL_HINT = (
    "install it with `apt-get install docker.io` and start the daemon "
    "(no init system: `dockerd --iptables=false --ip6tables=false --bridge=none "
    "--storage-driver=overlay2 &`; with systemd: `systemctl start docker`), "
    "or run `.ci/setup-docker.sh` which does both")


class DockerUnavailable(EvalpackError):
    """No usable Docker engine: exit 2 with the install/start instructions."""

    exit_code = 2


def docker_cli(purpose: str = "SWE-bench") -> str:
    path = shutil.which("docker")
    if not path:
        raise DockerUnavailable(f"{purpose} needs Docker but no `docker` command was found: {INSTALL_HINT}.")
    return path


def engine_info(purpose: str = "SWE-bench") -> dict:
    """`docker info` as a dict; raises DockerUnavailable when the daemon does not answer."""
    cli = docker_cli(purpose)
    try:
        proc = subprocess.run([cli, "info", "--format", "{{json .}}"], capture_output=True,
                              text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise DockerUnavailable(f"the Docker daemon did not answer `docker info` within 30 s: {INSTALL_HINT}.")
    except OSError as exc:
        raise DockerUnavailable(f"`docker info` could not run ({exc.strerror or exc}): {INSTALL_HINT}.") from None
    info = {}
    if proc.stdout.strip():
        try:
            info = json.loads(proc.stdout)
        except json.JSONDecodeError:
            info = {}
    if proc.returncode != 0 or not info.get("ServerVersion"):
        reason = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DockerUnavailable(f"the Docker daemon is not running ({reason}): {INSTALL_HINT}.")
    return info


def available() -> tuple[bool, str]:
    """(True, version) or (False, the reason + instructions); for tests that must skip."""
    try:
        return True, engine_info()["ServerVersion"]
    except DockerUnavailable as exc:
        return False, str(exc)


def native_arch() -> str:
    """The engine's architecture in SWE-bench's spelling: x86_64 or arm64."""
    arch = engine_info().get("Architecture", "")
    return {"aarch64": "arm64", "amd64": "x86_64"}.get(arch, arch)


def docker(*args: str, check: bool = True, timeout: float | None = None,
           input: str | bytes | None = None, text: bool = True) -> subprocess.CompletedProcess:
    """Run one docker CLI command and capture its output."""
    proc = subprocess.run([docker_cli(), *args], capture_output=True, text=text, timeout=timeout,
                          input=input)
    if check and proc.returncode != 0:
        err = proc.stderr if text else proc.stderr.decode(errors="replace")
        raise EvalpackError(f"`docker {' '.join(args[:3])} ...` failed: {err.strip()[-2000:]}")
    return proc


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def local_tags() -> set[str]:
    """Every repo:tag the local engine holds (one `docker images` call, not one per image)."""
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    return {line.strip() for line in out.splitlines() if line.strip() and "<none>" not in line}
