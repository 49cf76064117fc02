"""The code sandbox against hostile programs, for real: every program below runs in the
sandbox (never outside it) with small limits, in both isolation modes where this machine
allows them, and each must be contained, scored as a failure, and leave nothing behind."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import uuid
from pathlib import Path

import pytest

from evalpack.errors import UsageError
from evalpack.scoring import sandbox as sb
from evalpack.scoring.sandbox import Limits, SandboxPool

SMALL = Limits(cpu_seconds=5, memory_bytes=1 << 30, total_memory_bytes=512 << 20,
               file_size_bytes=16 << 20, disk_bytes=32 << 20,
               max_processes=16, open_files=64, output_bytes=256 << 10, tail_bytes=2048)
TESTS_DIR = Path(__file__).resolve().parent


def sandbox_processes() -> list[tuple[int, str]]:
    """(pid, cmdline) of every live process owned by a sandbox uid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uid = int(fields["Uid"].split()[0])
        if sb.UID_BASE <= uid < sb.UID_BASE + sb.UID_COUNT and fields["State"].strip()[:1] not in ("Z", "X"):
            found.append((int(name), cmd))
    return found


MODES = ["namespaces", "fallback"]


@pytest.fixture(scope="module", params=MODES)
def box(request) -> SandboxPool:
    return SandboxPool(workers=2, limits=SMALL, mode=request.param)


def run(box: SandboxPool, code: str, timeout: float = 5.0, **kw) -> sb.ExecResult:
    """Run one program, check nothing it started survives, and that the next one still works."""
    result = asyncio.run(box.run(code, timeout=timeout, **kw))
    assert sandbox_processes() == [], "a sandboxed process outlived its run"
    healthy = asyncio.run(box.run("print('ok')", timeout=10))
    assert healthy.status == "passed" and healthy.stdout_tail == "ok\n", healthy
    return result


def test_mode_detection_finds_a_working_isolation():
    auto = SandboxPool(workers=1)
    assert auto.engine.mode in MODES
    result = asyncio.run(auto.run("print(2 + 2)"))
    assert result.status == "passed" and result.stdout_tail == "4\n"
    assert result.isolation["network"]


def test_program_runs_unprivileged_in_a_fresh_empty_dir_that_is_removed(box):
    code = ("import os, sys\n"
            "print(os.getcwd()); print(sorted(os.listdir('.'))); print(os.getuid())\n"
            "open('scratch.txt', 'w').write('x')\n"
            "sys.exit(3)\n")
    result = run(box, code)
    assert result.status == "failed" and result.exit_code == 3 and result.detail == "exit code 3"
    cwd, listing, uid = result.stdout_tail.splitlines()
    assert listing == "['main.py']"
    if os.geteuid() == 0:
        assert sb.UID_BASE <= int(uid) < sb.UID_BASE + sb.UID_COUNT
    assert not Path(cwd).exists() or box.engine.mode == "namespaces"  # fallback: removed
    if box.engine.mode == "fallback":
        assert not any(_state_dir("sandbox-work").iterdir())


def _state_dir(name: str) -> Path:
    return sb._state_dir(name)


def test_fork_bomb_is_contained(box):
    code = ("import os\n"
            "while True:\n"
            "    try:\n"
            "        os.fork()\n"
            "    except OSError:\n"
            "        pass\n")
    result = run(box, code, timeout=2.0)
    assert result.status in ("timed_out", "failed")


def test_infinite_loop_times_out(box):
    result = run(box, "while True:\n    pass\n", timeout=1.5)
    assert result.status == "timed_out" and "wall-clock" in result.detail


def test_cpu_limit_stops_a_busy_program(box):
    result = run(box, "while True:\n    pass\n", timeout=10.0, cpu_seconds=1)
    assert result.status == "timed_out" and "CPU" in result.detail


def test_allocating_50_gb_fails_with_memory_error(box):
    result = run(box, "x = bytearray(50 * 1024 ** 3)\n")
    assert result.status == "failed" and "MemoryError" in result.stderr_tail
    # grabbing it piece by piece ends the same way, at the address-space limit
    result = run(box, "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n",
                 timeout=20.0, memory_bytes=512 << 20)
    assert result.status == "failed" and "MemoryError" in result.stderr_tail


def test_many_processes_cannot_add_up_to_more_memory_than_the_program_may_use(box):
    # each child stays under the per-process limit (1 GiB); together they would hold 1.2 GB
    code = ("import os, sys, time\n"
            "kids = []\n"
            "for _ in range(6):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        hold = b'x' * (200 << 20)\n"
            "        time.sleep(5)\n"
            "        os._exit(0)\n"
            "    kids.append(pid)\n"
            "ok = all(os.waitpid(k, 0)[1] == 0 for k in kids)\n"
            "sys.exit(0 if ok else 1)\n")
    result = run(box, code, timeout=15.0)
    assert result.status == "failed" and "memory limit" in result.detail


def test_writing_10_gb_to_one_file_stops_at_the_file_size_limit(box):
    code = ("block = b'\\0' * (1 << 20)\n"
            "with open('big.bin', 'wb') as f:\n"
            "    for _ in range(10 * 1024):\n"
            "        f.write(block)\n")
    result = run(box, code)
    assert result.status == "failed" and "File too large" in result.stderr_tail


def test_writing_10_gb_across_many_files_fills_only_a_small_private_tmpfs():
    box = SandboxPool(workers=1, limits=SMALL, mode="namespaces")  # the fallback has no total cap
    code = ("block = b'\\0' * (1 << 20)\n"
            "for i in range(10 * 1024):\n"
            "    with open(f'part{i}.bin', 'wb') as f:\n"
            "        f.write(block)\n")
    result = run(box, code)
    assert result.status == "failed" and "No space left on device" in result.stderr_tail


def test_deleting_files_outside_the_work_dir_fails(box, tmp_path):
    # Beside the run: a sentinel in a root-owned directory; under namespaces also one in a
    # world-writable directory (the read-only root file system protects it).
    sentinel_dir = TESTS_DIR / f"_sentinel_{uuid.uuid4().hex[:8]}"
    sentinel_dir.mkdir()
    mode = 0o777 if box.engine.mode == "namespaces" else 0o755
    os.chmod(sentinel_dir, mode)
    sentinel = sentinel_dir / "sentinel.txt"
    sentinel.write_text("keep me")
    os.chmod(sentinel, 0o666 if mode == 0o777 else 0o644)
    work_parent_sentinel = _state_dir("sandbox-work") / f"sentinel-{uuid.uuid4().hex[:8]}"
    work_parent_sentinel.write_text("keep me")
    try:
        code = ("import os, shutil, subprocess\n"
                f"targets = [{str(sentinel)!r}, {str(work_parent_sentinel)!r}]\n"
                "deleted = []\n"
                "for t in targets + ['../' + os.path.basename(targets[1])]:\n"
                "    try:\n"
                "        os.remove(t); deleted.append(t)\n"
                "    except OSError as e:\n"
                "        print('refused', t, e)\n"
                f"shutil.rmtree({str(sentinel_dir)!r}, ignore_errors=True)\n"
                f"subprocess.run(['rm', '-rf', {str(sentinel_dir)!r}])\n"
                "assert not deleted, deleted\n"
                "raise SystemExit(1)\n")
        result = run(box, code)
        assert result.status == "failed"
        assert sentinel.read_text() == "keep me"
        assert work_parent_sentinel.read_text() == "keep me"
    finally:
        sentinel.unlink(missing_ok=True)
        sentinel_dir.rmdir()
        work_parent_sentinel.unlink(missing_ok=True)


@pytest.mark.parametrize("block_sockets", [True, False])
def test_no_connection_reaches_a_listening_socket_on_127_0_0_1(box, block_sockets):
    if not block_sockets and box.engine.mode != "namespaces":
        pytest.skip("the fallback always blocks sockets")
    box = SandboxPool(workers=1, limits=SMALL, mode=box.engine.mode, block_sockets=block_sockets)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = ("import socket\n"
                f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                "s.sendall(b'exfiltrated')\n")
        result = run(box, code)
        assert result.status == "failed"
        assert ("PermissionError" in result.stderr_tail) == block_sockets, result.stderr_tail
        if not block_sockets:
            assert "unreachable" in result.stderr_tail or "refused" in result.stderr_tail
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected


def test_api_keys_in_the_environment_do_not_reach_the_program(box, monkeypatch):
    secret = "sk-evalpack-test-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("EVALPACK_API_KEY", secret)
    code = ("import os, glob\n"
            "found = [k for k, v in os.environ.items() if 'sk-' in v]\n"
            "for path in glob.glob('/proc/*/environ'):\n"
            "    try:\n"
            "        if b'sk-evalpack' in open(path, 'rb').read():\n"
            "            found.append(path)\n"
            "    except OSError:\n"
            "        pass\n"
            "print(sorted(os.environ))\n"
            "print('found', found)\n"
            "raise SystemExit(1 if found else 0)\n")
    result = run(box, code)
    assert result.status == "passed", result.stdout_tail
    assert secret not in result.stdout_tail + result.stderr_tail
    assert "OPENAI_API_KEY" not in result.stdout_tail


def test_killing_its_parent_or_everything_fails_and_the_run_goes_on(box):
    code = ("import os, signal\n"
            f"targets = [os.getppid(), {os.getpid()}, 1]\n"
            "for pid in targets:\n"
            "    try:\n"
            "        os.kill(pid, signal.SIGKILL)\n"
            "        print('killed', pid)\n"
            "    except OSError as e:\n"
            "        print('refused', pid, e)\n"
            "try:\n"
            "    os.kill(-1, signal.SIGKILL)  # everything this user may signal\n"
            "except OSError:\n"
            "    pass\n"
            "print('still here')\n")
    result = run(box, code)
    assert result.status == "passed" and "still here" in result.stdout_tail
    assert "killed" not in result.stdout_tail


def test_a_detached_daemon_dies_with_the_run(box):
    code = ("import os, subprocess, time\n"
            "subprocess.Popen(['setsid', 'sleep', '600'])\n"
            "if os.fork() == 0:\n"
            "    os.setsid()\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(600)\n"
            "    os._exit(0)\n"
            "time.sleep(0.3)\n"
            "print('detached')\n")
    result = run(box, code)  # run() asserts no sandbox-uid process is left
    assert result.status == "passed" and "detached" in result.stdout_tail
    assert result.survivors_killed >= 2  # the setsid'ed sleep and the double-forked daemon


def test_printing_without_end_is_cut_off(box):
    result = run(box, "while True:\n    print('spam' * 256)\n", timeout=10.0)
    assert result.status == "failed" and "output limit" in result.detail
    assert result.stdout_bytes > SMALL.output_bytes
    assert len(result.stdout_tail) <= SMALL.tail_bytes


def test_stdin_is_closed(box):
    result = run(box, "input()\n")
    assert result.status == "failed" and "EOFError" in result.stderr_tail


def test_a_broken_interpreter_is_a_sandbox_error_not_a_failure():
    box = SandboxPool(workers=1, limits=SMALL, mode="namespaces", python="/nonexistent/python3")
    result = asyncio.run(box.run("print(1)"))
    assert result.status == "sandbox_error" and "nonexistent" in result.detail
    with pytest.raises(UsageError):
        SandboxPool(workers=1, python="/nonexistent/python3")  # auto-detection probes first


def test_the_pool_bounds_how_many_programs_run_at_once():
    box = SandboxPool(workers=2, limits=SMALL)
    inner = box.engine.run
    running, peak = [0], [0]

    async def counting(*args):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        try:
            return await inner(*args)
        finally:
            running[0] -= 1

    box.engine.run = counting

    async def many():
        return await asyncio.gather(*(box.run("import time; time.sleep(0.2)") for _ in range(6)))

    results = asyncio.run(many())
    assert [r.status for r in results] == ["passed"] * 6
    assert peak[0] == 2


# --- docker -----------------------------------------------------------------------------
# No Docker engine is assumed here: these check the clear errors. The container path
# itself runs only where a daemon and a python image exist (see docs/humaneval.md).

def test_docker_without_docker_is_a_clear_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match="no `docker` command"):
        SandboxPool(engine="docker")


def test_docker_without_a_daemon_is_a_clear_usage_error(monkeypatch, tmp_path):
    fake = tmp_path / "docker"  # stands in for a docker client whose daemon is down
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\n"
                    "exit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match=r"--sandbox docker: the Docker daemon is not running \(Cannot connect.*--sandbox local"):
        SandboxPool(engine="docker")


def _docker_ready() -> bool:
    import shutil
    import subprocess

    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def docker_box():
    """A Docker engine sandbox with a small image made here from the host's own python3.11
    (no registry is reachable, so nothing can be pulled)."""
    import subprocess
    import tarfile

    host_python = Path("/usr/bin/python3.11")
    if not _docker_ready() or not host_python.exists() or not Path("/usr/lib/python3.11").is_dir():
        pytest.skip("no Docker daemon (or no Debian python3.11 to build a test image from)")
    libs = subprocess.run(["ldd", str(host_python)], capture_output=True, text=True).stdout
    files = [str(host_python)] + [p for p in (part.split("=>")[-1].split("(")[0].strip()
                                              for part in libs.splitlines()) if p.startswith("/")]
    image = f"evalpack-sandbox-test:{uuid.uuid4().hex[:8]}"
    skip = {"test", "idlelib", "tkinter", "ensurepip", "lib2to3", "pydoc_data", "__pycache__", "turtledemo"}
    tar_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{image.replace(':', '-')}.tar"
    with tarfile.open(tar_path, "w") as tar:
        for f in files:
            tar.add(os.path.realpath(f), arcname=f.lstrip("/"))
        for root, dirs, names in os.walk("/usr/lib/python3.11"):
            dirs[:] = [d for d in dirs if d not in skip]
            for n in names:
                p = os.path.join(root, n)
                tar.add(os.path.realpath(p), arcname=p.lstrip("/"))
        link = tarfile.TarInfo("usr/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, "python3.11"
        tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    try:
        subprocess.run(["docker", "import", str(tar_path), image], check=True, capture_output=True, timeout=300)
    finally:
        tar_path.unlink()
    try:
        yield SandboxPool(engine="docker", workers=2, limits=SMALL, image=image)
    finally:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, timeout=120)


def test_docker_engine_contains_programs(docker_box):
    import subprocess

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        codes = {
            "ok": "print(6 * 7)",
            "fail": "import sys; sys.exit(3)",
            "loop": "while True:\n    pass\n",
            "spam": "while True:\n    print('spam' * 256)\n",
            "net": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n",
            "bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            "write": "open('/etc/evalpack-was-here', 'w')",
        }

        async def all_of_them():
            # the deadline includes starting the container, which takes seconds on a busy machine
            return await asyncio.gather(*(docker_box.run(c, timeout=12.0) for c in codes.values()))

        results = dict(zip(codes, asyncio.run(all_of_them())))
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert results["ok"].status == "passed" and results["ok"].stdout_tail == "42\n"
    assert results["fail"].status == "failed" and results["fail"].exit_code == 3
    # stopped by the wall clock or, with the longer deadline, by the CPU-seconds ulimit
    assert results["loop"].status in ("timed_out", "failed") and results["loop"].exit_code != 0
    assert results["bomb"].status in ("timed_out", "failed") and results["bomb"].exit_code != 0
    assert results["spam"].status == "failed" and "output limit" in results["spam"].detail
    assert results["net"].status == "failed" and results["write"].status == "failed"
    assert "Read-only file system" in results["write"].stderr_tail
    import time

    for _ in range(30):  # --rm removal finishes in the daemon shortly after the kill
        left = subprocess.run(["docker", "ps", "-q", "--filter", "name=evalpack-sbx-"],
                              capture_output=True, text=True, timeout=60).stdout.split()
        if not left:
            break
        time.sleep(0.5)
    assert left == []  # no container of ours is still running


NON_ROOT_SCRIPT = r'''
import asyncio, json, os, sys
sys.path.insert(0, sys.argv[1])
mode_arg = sys.argv[2]
from evalpack.scoring.sandbox import Limits, SandboxPool
mode = None if mode_arg == "auto" else mode_arg
box = SandboxPool(workers=1, mode=mode, limits=Limits(max_processes=16, total_memory_bytes=512 << 20))
codes = {
    "ok": "print('hello')",
    "net": "import socket; socket.create_connection(('127.0.0.1', 22), timeout=1)",
    "daemon": "import subprocess; subprocess.Popen(['setsid', 'sleep', '600']); print('bye')",
    "kill_all": "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError as e:\n    print('refused', e)\n",
    "bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
}
async def main():
    return {name: (await box.run(code, timeout=2.0 if name == "bomb" else 10.0)).to_dict()
            for name, code in codes.items()}
print(json.dumps({"mode": box.engine.mode, "results": asyncio.run(main())}))
'''


@pytest.mark.parametrize("mode", ["auto", "fallback"])
def test_as_a_non_root_user(mode):
    """evalpack run by an ordinary user: user namespaces where allowed, else the fallback."""
    import json
    import shutil
    import subprocess
    import tempfile

    src = TESTS_DIR.parent / "src"
    if os.geteuid() != 0 or not shutil.which("setpriv") or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root (to become another user), setpriv and /usr/bin/python3")
    if not sb._world_executable("/usr/bin/python3") or not all(
            p.stat().st_mode & stat.S_IXOTH for p in [src, *src.parents]):
        pytest.skip("the checkout is not readable by other users")
    user = sb.UID_BASE + sb.UID_COUNT + 7  # an unused uid outside the sandbox range
    home = Path(tempfile.mkdtemp(prefix="evalpack-nonroot-"))  # its TMPDIR, which it owns
    os.chown(home, user, user)
    try:
        done = subprocess.run(
            ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "/usr/bin/python3",
             "-c", NON_ROOT_SCRIPT, str(src), mode], capture_output=True, text=True, timeout=120,
            env={"PATH": "/usr/bin:/bin", "TMPDIR": str(home)})
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    r = out["results"]
    assert out["mode"] == ("fallback" if mode == "fallback" else out["mode"])
    assert r["ok"]["status"] == "passed" and r["ok"]["stdout_tail"] == "hello\n", r
    assert r["net"]["status"] == "failed" and "PermissionError" in r["net"]["stderr_tail"], r
    assert r["daemon"]["status"] == "passed" and r["daemon"]["survivors_killed"] >= 1, r
    assert r["kill_all"]["status"] == "passed" and "refused" in r["kill_all"]["stdout_tail"], r
    assert r["bomb"]["status"] in ("timed_out", "failed"), r
    left = [p for p in os.listdir("/proc") if p.isdigit() and _owner(p) == user and _alive(p)]
    assert left == [], [_cmdline(p) for p in left]


def _alive(pid: str) -> bool:
    """Not a zombie (killed processes await their reaping by init: they run nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b"(gone)"


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
