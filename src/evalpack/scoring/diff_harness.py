"""Differential testing inside the sandbox: run one function on many inputs, report its outputs.

This file is standard library only and has no evalpack imports: its source is sent, as is,
at the top of each sandboxed program (`program()`), and evalpack imports it for the same
value codec (`encode` / `decode`) on its side.

The sandboxed program never sees the expected outputs: it only reports what the function
returned (or raised) for each input, and evalpack compares outside (evalpack.scoring.
evalplus_check). A program that fakes its report can only "pass" by reporting the right
outputs, i.e. by computing them.

Codec: JSON where lists, strings, numbers, booleans and None are themselves and every other
value is a tagged object {"t": tag, "v": ...}: tuple, set, frozenset, dict (as pairs),
complex, bytes, big ints (hex, because int<->str conversion is capped at 4300 digits) and
"opaque" for anything else (decoded as a value equal to nothing, like two distinct objects
without __eq__).
"""

import hashlib
import json
import marshal
import sys

RECORD = "\x1eEVALPACK-PHASE "  # one line per phase on the result channel
BIG_INT = 1 << 256
LARGE = 1 << 16  # an output whose encoding is larger travels as a digest


class Opaque:
    """A value the codec cannot carry (a generator, a match object...): equal to nothing."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return "<%s object>" % self.type_name


class Digest:
    """A large value, by the hash of its canonical form: equal when the values are equal as
    Python compares them (1 == 1.0 == True, sets and dicts in any order)."""

    def __init__(self, hexdigest):
        self.hexdigest = hexdigest

    def __eq__(self, other):
        return isinstance(other, Digest) and other.hexdigest == self.hexdigest

    def __ne__(self, other):
        return not self == other

    __hash__ = object.__hash__

    def __repr__(self):
        return "<large value %s>" % self.hexdigest[:12]


def _canon(x, h):
    if x is None:
        h.update(b"N")
    elif isinstance(x, (bool, int)) or (isinstance(x, float) and x.is_integer()):
        h.update(b"i%x;" % int(x))
    elif isinstance(x, float):
        h.update(b"f" + repr(x).encode() + (b"%x" % id(x) if x != x else b"") + b";")  # nan != nan
    elif isinstance(x, complex):
        if x.imag == 0:
            _canon(x.real, h)
        else:
            h.update(b"c" + repr(x).encode() + b";")
    elif isinstance(x, str):
        data = x.encode("utf-8", "surrogatepass")
        h.update(b"s%d:" % len(data) + data)
    elif isinstance(x, (bytes, bytearray)):
        h.update(b"b%d:" % len(x) + bytes(x))
    elif isinstance(x, (list, tuple)):
        h.update(b"[" if isinstance(x, list) else b"(")
        for i in x:
            _canon(i, h)
        h.update(b"]")
    elif isinstance(x, (set, frozenset)):
        h.update(b"{" + b"".join(sorted(_sub(i) for i in x)) + b"}")
    elif isinstance(x, dict):
        h.update(b"d" + b"".join(sorted(_sub(k) + _sub(v) for k, v in x.items())) + b"}")
    else:
        h.update(b"o%x;" % id(x))  # equal to nothing but itself


def _sub(x):
    h = hashlib.blake2b(digest_size=16)
    _canon(x, h)
    return h.digest()


def to_wire(x):
    """The plain form of an output, or its digest when that form would be large."""
    if _size(x, LARGE) <= LARGE:
        return to_plain(x)
    h = hashlib.blake2b(digest_size=20)
    if _lists_of_atoms(x):
        # marshal (format 2: no back-references, no interning marks) is canonical for lists,
        # tuples and atoms, and C-fast, element by element: a 1.6M-tuple output takes seconds
        # where the Python walk below takes minutes. It tells 1 from 1.0 (Python does not).
        h.update(b"M" + (b"[" if isinstance(x, list) else b"(") + b"%d;" % len(x))
        for item in x:
            h.update(marshal.dumps(item, 2))
    else:
        _canon(x, h)
    return {"t": "digest", "v": h.hexdigest()}


_ATOMS = {str, int, float, bool, type(None), bytes, complex}


def _lists_of_atoms(x):
    if type(x) not in (list, tuple):
        return False
    todo = [x]
    while todo:
        v = todo.pop()
        kinds = set(map(type, v))
        if not kinds <= _ATOMS | {list, tuple}:
            return False
        if list in kinds or tuple in kinds:
            todo.extend(i for i in v if type(i) in (list, tuple))
    return True


def _size(x, limit):
    """About the size of x's encoding, counted only up to just past `limit`."""
    todo, size = [x], 0
    while todo and size <= limit:
        v = todo.pop()
        if isinstance(v, (list, tuple, set, frozenset, dict)):
            if len(v) > limit:
                return limit + 1
            size += 2 + 2 * len(v)
            todo.extend(v.items() if isinstance(v, dict) else v)
        elif isinstance(v, (str, bytes, bytearray)):
            size += len(v) + 2
        elif isinstance(v, int) and v.bit_length() > 64:
            size += v.bit_length() // 4
        else:
            size += 8
    return size


def to_plain(x):
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        if -BIG_INT < x < BIG_INT:
            return int(x)
        return {"t": "int", "v": hex(x)}
    if isinstance(x, float):
        return float(x)
    if isinstance(x, list):
        return [to_plain(i) for i in x]
    if isinstance(x, tuple):
        return {"t": "tuple", "v": [to_plain(i) for i in x]}
    if isinstance(x, dict):
        return {"t": "dict", "v": [[to_plain(k), to_plain(v)] for k, v in x.items()]}
    if isinstance(x, frozenset):
        return {"t": "frozenset", "v": [to_plain(i) for i in x]}
    if isinstance(x, set):
        return {"t": "set", "v": [to_plain(i) for i in x]}
    if isinstance(x, complex):
        return {"t": "complex", "v": [x.real, x.imag]}
    if isinstance(x, (bytes, bytearray)):
        return {"t": "bytes", "v": bytes(x).hex()}
    if type(x).__module__ == "numpy" and getattr(x, "ndim", None) == 0:
        return to_plain(x.item())  # a numpy scalar compares like the Python number
    return {"t": "opaque", "v": type(x).__module__ + "." + type(x).__qualname__}


def from_plain(x):
    if isinstance(x, list):
        return [from_plain(i) for i in x]
    if not isinstance(x, dict):
        return x
    tag, v = x["t"], x["v"]
    if tag == "tuple":
        return tuple(from_plain(i) for i in v)
    if tag == "dict":
        return {from_plain(k): from_plain(val) for k, val in v}
    if tag == "set":
        return {from_plain(i) for i in v}
    if tag == "frozenset":
        return frozenset(from_plain(i) for i in v)
    if tag == "complex":
        return complex(float(v[0]), float(v[1]))
    if tag == "bytes":
        return bytes.fromhex(v)
    if tag == "int":
        return int(v, 16)
    if tag == "opaque":
        return Opaque(str(v))
    if tag == "digest":
        return Digest(str(v))
    raise ValueError("unknown tag %r" % (tag,))


def encode(x):
    return json.dumps(to_plain(x), separators=(",", ":"))


def decode(text):
    return from_plain(json.loads(text))


# --- the sandboxed side ---------------------------------------------------------------


class TimeLimit(Exception):
    pass


class _WriteOnly:
    """stdout/stderr/stdin of the function: writes vanish, reads fail (as evalplus's swallow_io)."""

    def write(self, s):
        return len(s)

    def writelines(self, lines):
        pass

    def flush(self):
        pass

    def read(self, *a):
        raise IOError

    readline = readlines = read

    def readable(self):
        return False

    def isatty(self):
        return False


def _guard():
    """evalplus's reliability_guard: calls that would change the machine become None, so a
    function relying on them fails there and here alike. (Containment is the sandbox's job.)"""
    import builtins
    import faulthandler
    import os
    import shutil
    import subprocess

    faulthandler.disable()
    builtins.exit = builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown",
                 "getcwd", "chdir"):
        setattr(os, name, None)
    builtins.open = None
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def _describe(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return text[:500]


def run(request):
    """Run request["code"], call request["entry_point"] on each phase's inputs; write one
    record per phase. Reference mode (the canonical solution): deep-copied inputs, timed, no
    limits. Candidate mode: evalplus's guard, swallowed I/O, a per-input time limit and a
    per-phase budget."""
    import copy
    import os
    import signal
    import time

    write, exit_now, out_fd = os.write, os._exit, os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # the function's own writes to fd 1 never reach the result channel

    def emit(record):
        write(out_fd, (RECORD + json.dumps(record, separators=(",", ":")) + "\n").encode())

    reference = request["mode"] == "reference"
    phases = [(p, decode(p["inputs"])) for p in request["phases"]]

    def on_alarm(signum, frame):
        raise TimeLimit("time limit exceeded")

    fn, setup_error = None, None
    quiet = _WriteOnly()
    saved = sys.stdout, sys.stderr, sys.stdin
    try:
        if not reference:
            _guard()
        scope = {"__name__": "__evalpack__"}
        sys.stdout = sys.stderr = sys.stdin = quiet
        try:
            exec(compile(request["code"], "solution.py", "exec"), scope)
        finally:
            sys.stdout, sys.stderr, sys.stdin = saved
        fn = scope[request["entry_point"]]
    except BaseException as exc:  # the program's own failure, reported like any other
        setup_error = "loading the solution: " + _describe(exc)

    for phase, inputs in phases:
        record = {"phase": phase["name"], "status": "ok", "outputs": [], "times": []}
        if setup_error:
            record.update(status="error", failed_at=0, error=setup_error)
            emit(record)
            continue
        limits, budget = phase.get("limits"), phase.get("budget")
        used = 0.0  # time in the function only: encoding its outputs is ours, not its
        for i, inp in enumerate(inputs):
            try:
                if reference:
                    args = copy.deepcopy(inp)
                    t0 = time.perf_counter()
                    out = fn(*args)
                    record["times"].append(time.perf_counter() - t0)
                    if request.get("output_not_none"):
                        out = out is not None
                else:
                    left = budget - used
                    if left <= 0:
                        record.update(status="timeout", failed_at=i,
                                      error="the phase's time budget of %.1f s ran out" % budget)
                        break
                    limit = min(limits[i], left)
                    signal.signal(signal.SIGALRM, on_alarm)
                    signal.setitimer(signal.ITIMER_REAL, limit)
                    sys.stdout = sys.stderr = sys.stdin = quiet
                    t0 = time.perf_counter()
                    try:
                        out = fn(*inp)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                        used += time.perf_counter() - t0
                        sys.stdout, sys.stderr, sys.stdin = saved
                record["outputs"].append(to_wire(out))
            except BaseException as exc:
                sys.stdout, sys.stderr, sys.stdin = saved
                if isinstance(exc, TimeLimit) and limit < limits[i]:
                    record.update(status="timeout", failed_at=i,
                                  error="input %d: the phase's time budget of %.1f s ran out" % (i, budget))
                elif isinstance(exc, TimeLimit):
                    record.update(status="timeout", failed_at=i,
                                  error="input %d: over its time limit of %.2f s" % (i, limit))
                else:
                    record.update(status="error", failed_at=i, error="input %d: %s" % (i, _describe(exc)))
                break
        emit(record)
    exit_now(0)  # no atexit handler or thread the function left behind may change the outcome


def parse_records(stdout, phase_names):
    """The phase records of one run, in order; raises ValueError when the channel holds
    anything else (a program that wrote into it), so such a run can only fail."""
    records = []
    for line in stdout.split("\n"):  # not splitlines(): it also splits at \x1e
        if not line:
            continue
        if not line.startswith(RECORD):
            raise ValueError("unexpected text on the result channel")
        records.append(json.loads(line[len(RECORD):]))
    names = [r.get("phase") for r in records]
    if names != list(phase_names)[:len(names)]:
        raise ValueError("phase records out of order or repeated: %r" % (names,))
    return records


_SOURCE = []


def program(request_json):
    """The whole sandboxed program: this module's source, then the call."""
    if not _SOURCE:
        with open(__file__, encoding="utf-8") as f:
            _SOURCE.append(f.read())
    return "%s\n\nrun(json.loads(%r))\n" % (_SOURCE[0], request_json)
