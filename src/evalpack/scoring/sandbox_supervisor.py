"""Runs ONE untrusted program and reports how it ended (started by evalpack.scoring.sandbox).

Started as `python -I -S sandbox_supervisor.py` with a request on stdin; writes one outcome
on stdout (both dicts of plain values in `marshal` format: it loads faster than json).
Standard library only and no evalpack imports, so it starts fast and depends on nothing
from the caller's environment.

Two isolation modes:

* "namespaces": unshare(2) new mount, network and pid namespaces (plus a user namespace
  when not root). The supervisor's child becomes pid 1 of the new pid namespace; when it
  exits, the kernel kills every process left in the namespace, including ones that
  setsid()/double-forked away. The network namespace has only a loopback that is down.
  The whole file system is remounted read-only (recursively, in the private mount
  namespace only) and /tmp, /var/tmp, /dev/shm become small private tmpfs mounts.
* "fallback" (no namespaces allowed): socket() is refused by a seccomp filter; the
  supervisor is a child subreaper, so orphans stay its descendants and are killed; as
  root, every process of the sandbox's dedicated uid is killed too.

In both modes: resource limits (setrlimit), a dedicated unprivileged uid when started as
root, no_new_privs, a scrubbed environment, stdin from /dev/null, output captured with a
size cap, and a wall-clock deadline.
"""

import ctypes
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 14, 1 << 18
PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 22, 36, 38
SYS_MOUNT_SETATTR = 442  # same number on x86_64 and aarch64
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2

# seccomp: (audit arch, socket, io_uring_setup, kill) system call numbers per machine.
# io_uring is refused too because its IORING_OP_SOCKET creates sockets without socket().
SECCOMP_ARCH = {
    "x86_64": (0xC000003E, 41, 425, 62),
    "aarch64": (0xC00000B7, 198, 425, 129),
}
PROGRAM_NAME = "main.py"
MEMORY_CHECK_S = 0.05
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _prctl(option: int, arg: int = 0) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0)), f"prctl({option})")


def _mount(source: str, target: str, fstype, flags: int, data) -> None:
    _check(libc.mount(source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


# --- tail buffers -------------------------------------------------------------------


class Tail:
    """Keeps the last `keep` bytes of a stream and counts all of it."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.buf = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        self.buf += data
        if len(self.buf) > 2 * self.keep:
            del self.buf[: len(self.buf) - self.keep]

    def text(self) -> str:
        return bytes(self.buf[-self.keep:] if self.keep else b"").decode("utf-8", "replace")


# --- the program's side of the fork --------------------------------------------------


def seccomp_filter(block_sockets: bool) -> None:
    """Kernel-enforced for this process and all it starts: kill(-1, ...) ("every process I may
    signal": all of the user's processes when not root) fails with EPERM, and with
    block_sockets socket() fails with EACCES."""
    arch = SECCOMP_ARCH.get(os.uname().machine)
    if arch is None:
        raise OSError(f"no seccomp filter for machine {os.uname().machine!r}")
    audit_arch, nr_socket, nr_io_uring, nr_kill = arch
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    kill, allow = 0x80000000, 0x7FFF0000
    eperm, eacces = 0x00050000 | 1, 0x00050000 | 13
    insns = [
        (ld_abs, 0, 0, 4),            # A = seccomp_data.arch
        (jeq, 1, 0, audit_arch),      # native arch: skip the kill
        (ret, 0, 0, kill),            # 32-bit compat calls could reach socketcall()
        (ld_abs, 0, 0, 0),            # A = seccomp_data.nr
        (jge, 0, 1, 0x40000000),      # x32 ABI numbers
        (ret, 0, 0, kill),
    ]
    if block_sockets:
        insns += [
            (jeq, 0, 1, nr_socket),
            (ret, 0, 0, eacces),
            (jeq, 0, 1, nr_io_uring),
            (ret, 0, 0, eacces),
        ]
    insns += [
        (jeq, 0, 3, nr_kill),
        (ld_abs, 0, 0, 16),           # A = low 32 bits of args[0], the pid
        (jeq, 0, 1, 0xFFFFFFFF),      # pid == -1
        (ret, 0, 0, eperm),
        (ret, 0, 0, allow),
    ]
    raw = b"".join(struct.pack("HBBI", *i) for i in insns)
    filt = ctypes.create_string_buffer(raw, len(raw))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(insns), ctypes.addressof(filt))
    _check(libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(2), ctypes.byref(prog),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)), "seccomp filter")


def set_limits(limits: dict, nproc_base: int) -> None:
    cpu = max(1, int(limits["cpu_seconds"]))
    pairs = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),  # soft: SIGXCPU, hard: SIGKILL one second later
        (resource.RLIMIT_AS, (limits["memory_bytes"],) * 2),
        (resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2),
        (resource.RLIMIT_NOFILE, (limits["open_files"],) * 2),
        (resource.RLIMIT_NPROC, (nproc_base + limits["max_processes"],) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    for which, value in pairs:
        resource.setrlimit(which, value)


def start_program(req: dict, workdir: str, out_w: int, err_w: int, report_w: int) -> None:
    """In the forked child: lock down, then exec the interpreter. Never returns."""
    limits = req["limits"]
    uid = req.get("uid")
    os.setsid()  # no controlling terminal, own process group
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, report_w)
    os.closerange(report_w + 1, max(1 << 16, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    os.chdir(workdir)
    # Written before the privilege drop: root-owned and read-only for the program.
    fd = os.open(PROGRAM_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(req["code"])
    # RLIMIT_NPROC counts every process of the real uid. A dedicated uid starts at 0;
    # the caller's own uid (no privilege drop) already owns some.
    set_limits(limits, 0 if uid is not None else count_processes(os.getuid()))
    if uid is not None:
        os.setgroups([])
        os.setgid(req["gid"])
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError("privilege drop did not take")
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid: a credential change clears it
    _prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid binaries (sudo, su) cannot raise privileges
    seccomp_filter(req["block_sockets"])
    env = {"PATH": SAFE_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}
    python = req["python"]
    os.execve(python, [python, "-I", PROGRAM_NAME], env)


# --- the supervisor's side ----------------------------------------------------------


def count_processes(uid: int) -> int:
    return len(processes_of(uid))


def _proc_status(pid: str) -> tuple[int, int, str]:
    """(ppid, uid, state) of a process from /proc; raises OSError if it is gone."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()  # the name in (...) may hold anything
    return int(fields[1]), os.stat(f"/proc/{pid}").st_uid, fields[0][:1].decode()


def _all_processes() -> dict[int, tuple[int, int, str]]:
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                table[int(name)] = _proc_status(name)
            except (OSError, KeyError, ValueError):
                pass
    return table


def processes_of(uid: int, table: dict | None = None) -> set[int]:
    table = _all_processes() if table is None else table
    return {pid for pid, (_, u, state) in table.items() if u == uid and state != "Z"}


def descendants(root: int, table: dict | None = None) -> set[int]:
    table = _all_processes() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, state) in table.items():
        if state != "Z":
            children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def tree_memory(req: dict) -> int:
    """Resident memory of all the program's processes together, in bytes. RLIMIT_AS bounds
    each process; this bounds their sum (no cgroup needed), checked every MEMORY_CHECK_S."""
    if os.getpid() == 1:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and p != "1"]
    elif req.get("uid") is not None:
        pids = []
        for p in os.listdir("/proc"):
            try:
                if p.isdigit() and os.stat(f"/proc/{p}").st_uid == req["uid"]:
                    pids.append(p)
            except OSError:
                pass
    else:
        pids = [str(p) for p in descendants(os.getpid())]
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            pass
    return total


def reap_all() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_everything(req: dict) -> int:
    """Kill every process the program left behind. Returns how many there were."""
    if os.getpid() == 1:
        # pid 1 of our own pid namespace: /proc and kill(-1) cover exactly this namespace.
        left = len([p for p in os.listdir("/proc") if p.isdigit() and p != "1"])
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        reap_all()
        return left
    uid = req.get("uid")
    first = None
    for _ in range(100):
        table = _all_processes()  # one pass over /proc serves both questions
        victims = descendants(os.getpid(), table)
        if uid is not None:
            victims |= processes_of(uid, table)
        if first is None:
            first = len(victims)
        if not victims:
            return first
        if uid is not None:
            # A helper with the sandbox's uid signals everything that uid owns in one
            # kernel pass (a fork bomb cannot outrun it), and nothing else.
            helper = os.fork()
            if helper == 0:
                try:
                    os.setgroups([])
                    os.setgid(req["gid"])
                    os.setuid(uid)
                    if os.getuid() == uid and uid != 0:
                        os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
        reap_all()
    return first or 0


def supervise(req: dict, workdir: str) -> dict:
    limits = req["limits"]
    keep = req["tail_bytes"]
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    report_r, report_w = os.pipe2(os.O_CLOEXEC)  # EOF on exec, an error message otherwise
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(report_r)
            start_program(req, workdir, out_w, err_w, report_w)
        except BaseException as exc:  # report any setup failure, never run the program
            try:
                os.write(report_w, f"{type(exc).__name__}: {exc}".encode()[:2000])
            finally:
                os._exit(127)
    for fd in (out_w, err_w, report_w):
        os.close(fd)
    setup_error = b""
    while True:
        chunk = os.read(report_r, 4096)
        if not chunk:
            break
        setup_error += chunk
    os.close(report_r)

    tails = {out_r: Tail(keep), err_r: Tail(keep)}
    open_fds = [out_r, err_r]
    deadline = started + req["timeout"]
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    exit_status = rusage = None
    reason = None
    next_memory_check = time.monotonic() + MEMORY_CHECK_S
    while exit_status is None:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            reason = "timeout"
            break
        if now >= next_memory_check:
            if tree_memory(req) > limits["total_memory_bytes"]:
                reason = "memory"
                break
            next_memory_check = now + MEMORY_CHECK_S
        waitables = open_fds + ([pidfd] if pidfd is not None else [])
        ready, _, _ = select.select(waitables, [], [], min(remaining, MEMORY_CHECK_S))
        for fd in ready:
            if fd == pidfd:
                continue
            data = os.read(fd, 1 << 16)
            if data:
                tails[fd].add(data)
            else:
                open_fds.remove(fd)
        if sum(t.total for t in tails.values()) > limits["output_bytes"]:
            reason = "output"
            break
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            exit_status, rusage = status, usage
    if exit_status is None:  # timed out or too much output: the program dies first
        os.kill(pid, signal.SIGKILL)
        _, exit_status, rusage = os.wait4(pid, 0)
    survivors = kill_everything(req)  # whatever the program left behind dies now
    if pidfd is not None:
        os.close(pidfd)
    # Everything that could write is dead: drain what is still buffered in the pipes.
    for fd in open_fds:
        while select.select([fd], [], [], 1.0)[0]:
            data = os.read(fd, 1 << 16)
            if not data:
                break
            tails[fd].add(data)
    for fd in (out_r, err_r):
        os.close(fd)
    duration = time.monotonic() - started

    exit_code = os.waitstatus_to_exitcode(exit_status)
    sig = -exit_code if exit_code < 0 else None
    cpu = rusage.ru_utime + rusage.ru_stime if rusage else 0.0
    if setup_error:
        status, detail = "sandbox_error", "sandbox setup failed: " + setup_error.decode("utf-8", "replace")
    elif reason == "timeout":
        status, detail = "timed_out", f"wall-clock timeout after {req['timeout']:g} s"
    elif reason == "memory":
        status, detail = "failed", (f"memory limit of {limits['total_memory_bytes']} bytes for all "
                                    "its processes together exceeded")
    elif reason == "output":
        status, detail = "failed", f"output limit of {limits['output_bytes']} bytes exceeded"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits["cpu_seconds"]):
        status, detail = "timed_out", f"CPU time limit of {limits['cpu_seconds']} s"
    elif sig == signal.SIGXFSZ:
        status, detail = "failed", f"file size limit of {limits['file_size_bytes']} bytes"
    elif exit_code == 0:
        status, detail = "passed", ""
    else:
        status, detail = "failed", (f"killed by signal {signal.Signals(sig).name}" if sig
                                    else f"exit code {exit_code}")
    return {"status": status, "detail": detail, "exit_code": exit_code, "signal": sig,
            "stdout_tail": tails[out_r].text(), "stderr_tail": tails[err_r].text(),
            "stdout_bytes": tails[out_r].total, "stderr_bytes": tails[err_r].total,
            "duration_s": round(duration, 4), "cpu_s": round(cpu, 4),
            "survivors_killed": survivors}


# --- isolation modes ----------------------------------------------------------------


def _read_only_root() -> bool:
    attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    ret = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), b"/",
                       ctypes.c_uint(AT_RECURSIVE), buf, ctypes.c_size_t(len(attr)))
    return ret == 0


def prepare_namespace(req: dict) -> tuple[str, str]:
    """As pid 1 of the new namespaces: private /proc, read-only root, private tmpfs."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    read_only = _read_only_root()
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    size = req["limits"]["disk_bytes"]
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    workdir = "/tmp/work"
    os.mkdir(workdir, 0o700)
    if req.get("uid") is not None:
        os.chown(workdir, req["uid"], req["gid"])
    files = ("read-only; private tmpfs of %d bytes on /tmp, /var/tmp, /dev/shm" % size
             if read_only else "private tmpfs of %d bytes on /tmp, /var/tmp, /dev/shm" % size)
    return workdir, files


def run_in_namespaces(req: dict) -> dict:
    # IPC and UTS too: no System V shared memory/semaphores or hostname shared with the host
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    real_uid, real_gid = os.getuid(), os.getgid()
    if real_uid != 0:
        flags |= CLONE_NEWUSER
    _check(libc.unshare(flags), "unshare")
    if real_uid != 0:
        # map ourselves to root inside, so we may mount; the program stays our own uid outside
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
        with open("/proc/self/uid_map", "w") as f:
            f.write(f"0 {real_uid} 1")
        with open("/proc/self/gid_map", "w") as f:
            f.write(f"0 {real_gid} 1")
    result_r, result_w = os.pipe()
    init = os.fork()
    if init == 0:  # pid 1 of the new pid namespace
        os.close(result_r)
        try:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # the caller killed us: the namespace dies
            workdir, files = prepare_namespace(req)
            outcome = supervise(req, workdir)
            outcome["isolation"] = {
                "network": "own network namespace (no interfaces up)"
                           + ("; socket() refused by seccomp" if req["block_sockets"] else ""),
                "processes": "own pid namespace, all killed at exit",
                "files": files,
                "user": f"uid {req['uid']}" if req.get("uid") is not None else "user namespace",
            }
        except BaseException as exc:
            outcome = {"status": "sandbox_error", "detail": f"namespace setup failed: {exc}"}
        os.write(result_w, marshal.dumps(outcome))
        os._exit(0)
    os.close(result_w)
    chunks = []
    while True:
        chunk = os.read(result_r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(init, 0)
    if not chunks:
        return {"status": "sandbox_error",
                "detail": f"namespace init ended without a result (wait status {status})"}
    return marshal.loads(b"".join(chunks))


def run_fallback(req: dict) -> dict:
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of the program are re-parented to us
    if req.get("uid") is not None:
        os.chown(req["workdir"], req["uid"], req["gid"])
        os.chmod(req["workdir"], 0o700)
    outcome = supervise(req, req["workdir"])
    outcome["isolation"] = {
        "network": "socket() refused by seccomp (no network namespace available)",
        "processes": "subreaper" + (" + all processes of the sandbox uid" if req.get("uid") is not None else "")
                     + ", all killed at exit",
        "files": f"work dir on disk; each file capped at {req['limits']['file_size_bytes']} bytes",
        "user": f"uid {req['uid']}" if req.get("uid") is not None else "unchanged (not root)",
    }
    return outcome


def main() -> None:
    req = marshal.loads(sys.stdin.buffer.read())
    try:
        if req["mode"] == "namespaces":
            outcome = run_in_namespaces(req)
        else:
            outcome = run_fallback(req)
    except BaseException as exc:
        outcome = {"status": "sandbox_error", "detail": f"{type(exc).__name__}: {exc}"}
    sys.stdout.buffer.write(marshal.dumps(outcome))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
