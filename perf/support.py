"""What the perf scripts share: a free port on 127.0.0.1, and an `evalpack mock` started and answering.

The scripts run as `python perf/NAME.py`, so this directory is on sys.path and `from support import …`
finds this module."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mock(*mock_args: str, env: dict, stderr=subprocess.DEVNULL, wait_s: float = 30,
               probe: str = "/v1/models") -> tuple[subprocess.Popen, int]:
    """`evalpack mock --port P *mock_args`, returned once `probe` answers; SystemExit if it never does."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "evalpack", "mock", "--port", str(port), *mock_args],
                            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1).read()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode()[-2000:] if stderr == subprocess.PIPE else ""
                proc.kill()
                raise SystemExit(f"evalpack mock did not start: {err}".rstrip(": ")) from None
            time.sleep(0.05)
