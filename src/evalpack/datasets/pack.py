"""`evalpack pack` (connected machine) and `evalpack unpack` (isolated one).

A kit is one tar (optionally .gz/.xz) laid out so that plain `tar` is enough
to get at each part:

    manifest.json                    what is inside, with sha256 and size of every file
    datasets/<dir>/<upstream files>  a dataset dir
    datasets/<dir>/...                  extra content a manifest's kit hook packs (SWE-bench: git
                                     bundles, `docker save` archives; its "packed" files)
    wheels/*.whl                     evalpack and its dependencies (with --wheels)
    INSTALL.md, install.sh, SHA256SUMS   how to install those wheels with no network (with --wheels)

`unpack` re-hashes every dataset file while it streams it out and only renames
a file into place once its checksum matched, so a dir filled by unpack is
verified by construction.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import dataclasses
import shutil
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from evalpack import __version__
from evalpack.datasets import download
from evalpack.datasets.registry import FILE_KEYS, Manifest, find_manifest, parse_manifest
from evalpack.datasets.verify import LOCAL_HASHES, SAMPLE_HASHES, SAMPLE_MARKER, sha256_file
from evalpack.errors import DataMissingError, UsageError
from evalpack.types import DataFile

KIT_FORMAT = "evalpack-kit/1"
MTIME = 1704067200  # fixed (2024-01-01): the same inputs give the same archive bytes


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- pack ---
def stage_datasets(manifests: list[Manifest], staging: Path, *, hub_base: str | None, mirror: str | None,
                   retries: int, backoff: float, jobs: int = 4) -> None:
    """Fill staging/datasets/<dir>/<path> with verified files."""
    # a plugin that ships its files in its package is their source; other files without a URL need a mirror
    derived = [(m, f) for m in manifests for f in m.files if not f.url and not m.bundled]
    if derived and not mirror:
        names = ", ".join(f"{m.name}/{f.path}" for m, f in derived[:5])
        more = f" and {len(derived) - 5} more" if len(derived) > 5 else ""
        raise UsageError(f"{names}{more} have no upstream download (derived files: conversions or repacks, "
                         f"see the manifests); pass --mirror with a verified dataset dir or its URL to take them "
                         f"from there")
    containers: dict[str, list[tuple[Manifest, DataFile]]] = {}
    singles: list[tuple[Manifest, DataFile]] = []
    for m in manifests:
        for f in m.files:
            if f.url and f.member:
                containers.setdefault(f.url, []).append((m, f))
            else:
                singles.append((m, f))

    def target(m: Manifest, f: DataFile) -> Path:
        return staging / "datasets" / m.name / f.path

    def one(item: tuple[Manifest, DataFile]) -> None:
        m, f = item
        dest = target(m, f)
        if dest.is_file() and download._check(dest, f.size, f.sha256) is None:
            return  # staged by an earlier, interrupted pack
        if f.url:
            url = download.upstream_url(f.url, hub_base)
        elif m.bundled:
            copy_verified(Path(m.bundled) / f.path, dest, f, source=f"the package {m.plugin}")
            return
        elif mirror_is_dir(mirror):
            copy_verified(Path(mirror) / m.name / f.path, dest, f)
            return
        else:
            url = mirror.rstrip("/") + "/" + f"{m.name}/{f.path}"
        download.fetch(url, dest, size=f.size, sha256=f.sha256, retries=retries, backoff=backoff, log=log)

    def container(url: str) -> None:
        members = containers[url]
        if all(target(m, f).is_file() and download._check(target(m, f), f.size, f.sha256) is None
               for m, f in members):
            return
        local = staging / "containers" / (hashlib.sha256(url.encode()).hexdigest()[:16] + "-" +
                                          PurePosixPath(url).name)
        src = download.upstream_url(url, hub_base)
        if not local.is_file():
            download.fetch(src, local, retries=retries, backoff=backoff, log=log)
        try:
            for m, f in members:
                download.extract_member(local, f.member, target(m, f), f)
        except download.DownloadError:
            local.unlink()  # a bad archive must not be reused by the next run
            raise

    work = [("c", u) for u in containers] + [("f", s) for s in singles]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(container if kind == "c" else one, item) for kind, item in work]
        errors = []
        for fut in futures:
            try:
                fut.result()
            except (download.DownloadError, DataMissingError) as e:
                errors.append(str(e))
    if errors:
        raise download.DownloadError("could not fetch every file (staged files are kept, so running the "
                                     "same command again resumes):\n  " + "\n  ".join(errors))
    shutil.rmtree(staging / "containers", ignore_errors=True)


def mirror_is_dir(mirror: str | None) -> bool:
    return bool(mirror) and "://" not in mirror


def copy_verified(src: Path, dest: Path, f: DataFile, source: str = "the mirror") -> None:
    if not src.is_file():
        raise DataMissingError(f"{src} is not in {source}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    shutil.copyfile(src, tmp)
    problem = download._check(tmp, f.size, f.sha256)
    if problem:
        tmp.unlink()
        raise DataMissingError(f"{src}: {problem} ({source}'s copy is not the registry's file)")
    tmp.replace(dest)


def kit_hook(m: Manifest):
    """The module a manifest names as its `kit`: check_options(repos, with_images, arch) before any
    download, stage(root, repos, with_images, arch) -> packed files, after_unpack(root, packed)."""
    import importlib

    return importlib.import_module(m.kit)


def sample_manifest(m: Manifest, root: Path) -> Manifest:
    """A sample dir (SAMPLE_MARKER inside) packed as it is: its files with their own hashes,
    since they are not the registry's (e.g. the synthetic SWE-bench instances of the tests)."""
    files = [DataFile(path=p.relative_to(root).as_posix(), sha256=sha256_file(p), size=p.stat().st_size,
                      derived=f"sample data ({SAMPLE_MARKER})")
             for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return Manifest(name=m.name, benchmarks=m.benchmarks, title=m.title, license=m.license,
                    source={"kind": "sample"}, records={}, files=files, kit=m.kit)


LOCAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def local_manifest(name: str, root: Path) -> Manifest:
    """A user's own set (`pack --local NAME=DIR`): every file under DIR with its sha256, which unpack,
    verify and eval then check it against as they check the registry's files against the registry.
    Its question files must parse (JSON, CSV, UTF-8): a kit that cannot run is refused here."""
    from evalpack.datasets.user_files import FORMATS, read_table

    if not LOCAL_NAME.fullmatch(name):
        raise UsageError(f"--local {name}=...: the name must be letters, digits, '_', '.' or '-' (it becomes the "
                         f"folder <dataset-dir>/{name})")
    if find_manifest(name) is not None:
        raise UsageError(f"--local {name}=...: {name!r} is a registry dataset; a user's set never takes the place of "
                         f"verified registry files: pick another name (e.g. my_{name})")
    if not root.is_dir():
        raise UsageError(f"--local {name}={root}: no such folder")
    paths = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name not in (LOCAL_HASHES, SAMPLE_HASHES)
             and "__pycache__" not in p.parts and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if not paths:
        raise UsageError(f"--local {name}={root}: the folder holds no files")
    for path in paths:
        if path.suffix in FORMATS:
            read_table(path)  # bad JSON, encoding, an empty file: UserDataError naming the line
    files = [DataFile(path=p.relative_to(root).as_posix(), sha256=sha256_file(p), size=p.stat().st_size,
                      derived="a user's own set (pack --local)") for p in paths]
    return Manifest(name=name, benchmarks=(), title=f"{name} (your own set)", license="", source={"kind": "local"},
                    records={}, files=files)


def kit_manifest(manifests: list[Manifest], wheels: list[dict] | None, wheel_spec: dict | None,
                 extras: dict[str, dict] | None = None) -> dict:
    """`extras`: per dataset dir, keys added to its entry ("sample": true, "packed": [files])."""
    return {"format": KIT_FORMAT, "evalpack_version": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "datasets": [{**m.to_json(), **(extras or {}).get(m.name, {})} for m in manifests],
            "wheels": None if wheels is None else {**(wheel_spec or {}), "files": wheels}}


def write_archive(out: Path, staging: Path, manifest: dict) -> None:
    mode = "w:gz" if out.name.endswith((".tar.gz", ".tgz")) else "w:xz" if out.name.endswith(".tar.xz") else "w"
    tmp = out.with_name(out.name + ".part")
    with tarfile.open(tmp, mode, format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "manifest.json", (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode())
        for m in manifest["datasets"]:
            for f in m["files"] + m.get("packed", []):
                add_file(tar, f"datasets/{m['name']}/{f['path']}", staging / "datasets" / m["name"] / f["path"])
        wheels = manifest.get("wheels")
        if wheels:
            from evalpack.datasets.software_kit import root_files

            for name, data in root_files(wheels, wheels["files"], bool(manifest["datasets"])).items():
                add_bytes(tar, name, data)
            for w in wheels["files"]:
                add_file(tar, f"wheels/{w['name']}", staging / "wheels" / w["name"])
    tmp.replace(out)


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), MTIME, 0o644
    tar.addfile(info, io.BytesIO(data))


def add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = path.stat().st_size, MTIME, 0o644
    with open(path, "rb") as f:
        tar.addfile(info, f)


def pack(manifests: list[Manifest], out: Path, *, hub_base: str | None = None, mirror: str | None = None,
         wheels: dict | None = None, repos: dict[str, Path] | None = None, with_images: bool = False,
         image_arch: str | None = None, retries: int = 4, backoff: float = 1.0,
         keep_staging: bool = False, local: dict[str, Path] | None = None) -> dict:
    """Download, verify and archive. `wheels`: None, or {"platforms": [...], "python_version": ...}.
    `repos` ({"owner/name": clone}) and `with_images` go to the kit hook of each dataset whose
    manifest names one (SWE-bench's adds git bundles and container images). `local`: a user's own
    sets, {NAME: folder}, packed as they are with their checksums."""
    out = out.resolve()
    staging = out.with_name(out.name + ".staging")  # beside the archive, resumable, removed on success
    staging.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    extras: dict[str, dict] = {}
    manifests = list(manifests)
    if mirror_is_dir(mirror):
        for i, m in enumerate(manifests):
            if (Path(mirror) / m.name / SAMPLE_MARKER).is_file():
                log(f"{m.name}: {Path(mirror) / m.name} holds sample data ({SAMPLE_MARKER}); packing its files "
                    f"as they are, not the registry's")
                manifests[i] = sample_manifest(m, Path(mirror) / m.name)
                extras[m.name] = {"sample": True}
    own = [local_manifest(name, Path(root)) for name, root in (local or {}).items()]
    stage_datasets(manifests, staging, hub_base=hub_base, mirror=mirror, retries=retries, backoff=backoff)
    for m in own:
        for f in m.files:
            copy_verified(Path(local[m.name]) / f.path, staging / "datasets" / m.name / f.path, f)
        extras[m.name] = {"local": True}
        log(f"{m.name}: your own set, {len(m.files)} files ({m.size:,} bytes) from {local[m.name]}")
    manifests += own
    for i, m in enumerate(manifests):
        if not (m.kit and (repos or with_images)):
            continue
        packed = kit_hook(m).stage(staging / "datasets" / m.name, repos or {}, with_images, image_arch)
        extras.setdefault(m.name, {})["packed"] = packed
        # a sample dir that is itself an unpacked kit: the fresh bundles and images replace its copies
        manifests[i] = dataclasses.replace(m, files=[f for f in m.files
                                                      if f.path not in {p["path"] for p in packed}])
        log(f"{m.name}: {len(packed)} packed files ({sum(f['size'] for f in packed):,} bytes): "
            + ", ".join(f"{f['path']} {f['size']:,}" for f in packed))
    wheel_files = None
    if wheels is not None:
        from evalpack.datasets.wheels import build_wheelhouse

        wheel_files = build_wheelhouse(staging / "wheels", platforms=wheels.get("platforms") or [],
                                       python_version=wheels.get("python_version"),
                                       extras=wheels.get("extras") or [], log=log)
    manifest = kit_manifest(manifests, wheel_files, wheels, extras)
    write_archive(out, staging, manifest)
    if not keep_staging:
        shutil.rmtree(staging, ignore_errors=True)
    files = sum(len(m.files) for m in manifests)
    log(f"packed {files} dataset files ({sum(m.size for m in manifests):,} bytes)"
        + (f" and {len(wheel_files)} wheels" if wheel_files else "")
        + f" into {out} ({out.stat().st_size:,} bytes) in {time.perf_counter() - started:.1f} s")
    return manifest


# --- unpack ---


def unpack(archive: Path, to: Path) -> dict:
    """Extract datasets/ into `to`, verifying each file against the kit's manifest and this
    evalpack's registry. Returns {"written", "skipped", "problems"}; nothing unverified is left in place,
    and a verified file is never replaced by bytes the registry does not know (a kit that calls
    itself "sample" included)."""
    import lzma
    import zlib

    try:
        return _unpack(archive, to)
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise UsageError(f"{archive} cannot be read to the end ({type(e).__name__}: {e}); the archive is "
                         f"truncated or damaged: copy it again") from None
    except OSError as e:
        raise UsageError(f"unpack of {archive} into {to} failed ({e.strerror or e}"
                         f"{': ' + str(e.filename) if e.filename else ''})") from None


def _unpack(archive: Path, to: Path) -> dict:
    if not archive.is_file():
        raise UsageError(f"{archive}: no such archive")
    try:
        tar = tarfile.open(archive, "r:*")
    except tarfile.TarError as e:
        raise UsageError(f"{archive} is not a tar archive ({e})") from None
    with tar:
        try:
            manifest = json.load(tar.extractfile("manifest.json"))
        except KeyError:
            raise UsageError(f"{archive} has no manifest.json: not an evalpack kit") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise UsageError(f"{archive}: manifest.json is not valid JSON ({e}); not an evalpack kit") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("datasets"), list):
            raise UsageError(f"{archive}: manifest.json has no list of datasets; not an evalpack kit")
        if manifest.get("format") != KIT_FORMAT:
            raise UsageError(f"{archive}: kit format {manifest.get('format')!r} is not {KIT_FORMAT!r}; "
                             f"unpack it with the evalpack version that made it "
                             f"({manifest.get('evalpack_version')})")
        expected: dict[str, tuple[str, DataFile]] = {}
        problems: list[str] = []
        samples: dict[str, list[DataFile]] = {}
        locals_: dict[str, list[DataFile]] = {}  # a user's own sets (pack --local)
        for m in manifest["datasets"]:
            try:
                kit = parse_manifest(m)
                packed = [DataFile(**{k: v for k, v in f.items() if k in FILE_KEYS}) for f in m.get("packed", [])]
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise UsageError(f"{archive}: manifest.json describes a dataset badly ({type(e).__name__}: {e}); "
                                 f"not a kit this evalpack can read") from None
            registry = find_manifest(kit.name)
            # sample data and packed files (bundles, images) are made by the packer: the kit's
            # hashes are all there is to check them against
            ours = None if m.get("sample") or m.get("local") else registry
            ours_by_path = {f.path: f for f in ours.files} if ours else {}
            if m.get("local"):
                if registry is not None:
                    problems.append(f"{kit.name}: the kit holds a user's own set under the name of a registry "
                                    f"dataset; a user's set never replaces verified data: refusing the kit")
                locals_[kit.name] = kit.files
            if m.get("sample"):
                samples[kit.name] = kit.files
                held = _verified_files(to / kit.name, registry)
                if held:
                    problems.append(f"{kit.name}: the kit holds sample data, and {to / kit.name} holds verified "
                                    f"{kit.name} files ({held[0]}{' ...' if len(held) > 1 else ''}); sample data never "
                                    f"replaces verified data: unpack this kit into another --to")
            registry_paths = {f.path for f in registry.files} if registry else set()
            for f in packed:
                if f.path in registry_paths:
                    problems.append(f"{kit.name}/{f.path}: listed as a packed extra but it is a registry file; "
                                    f"refusing the kit")
            for i, f in enumerate(kit.files + packed):  # packed files last: never in the registry
                parts = PurePosixPath(f.path).parts
                if PurePosixPath(f.path).is_absolute() or ".." in parts or "/" in kit.name or ".." == kit.name:
                    raise DataMissingError(f"{archive}: manifest path {kit.name}/{f.path} leaves the dataset "
                                           f"dir; refusing the kit")
                mine = ours_by_path.get(f.path)
                if ours and i < len(kit.files) and (mine is None or mine.sha256 != f.sha256):
                    problems.append(f"{kit.name}/{f.path}: the kit (evalpack {manifest.get('evalpack_version')}) "
                                    f"and this evalpack ({__version__}) disagree on its sha256; pack it with "
                                    f"the evalpack that will run the eval")
                expected[f"datasets/{kit.name}/{f.path}"] = (kit.name, f)
        if problems:
            raise DataMissingError("\n".join(problems[:20]))
        written = skipped = 0
        seen = set()
        for info in tar:
            name = info.name
            if not name.startswith("datasets/"):
                continue  # manifest.json, wheels/: not part of a dataset dir
            entry = expected.get(name)
            if entry is None or not info.isfile() or ".." in PurePosixPath(name).parts:
                problems.append(f"{name}: not listed in the kit's manifest (refused)")
                continue
            seen.add(name)
            dirname, f = entry
            dest = to / dirname / f.path
            if dest.is_file() and download._check(dest, f.size, f.sha256) is None:
                skipped += 1
                continue
            problem = download.extract_verified(tar, info, dest, f)
            if problem:
                problems.append(f"CORRUPT {dirname}/{f.path}: {problem}")
            else:
                written += 1
        for name, (dirname, f) in expected.items():
            if name not in seen:
                problems.append(f"MISSING {dirname}/{f.path}: listed in the manifest, absent from the archive")
        wheels = 0
        if manifest.get("wheels"):
            from evalpack.datasets.software_kit import extract_wheels

            wheels, wheel_problems = extract_wheels(tar, manifest, to)
            problems += wheel_problems
    # eval and verify check a sample dir, and a user's own set, against the hashes it came with
    for hashes, sets in ((SAMPLE_HASHES, samples), (LOCAL_HASHES, locals_)):
        for dirname, files in sets.items():
            (to / dirname / hashes).write_text(json.dumps(
                {f.path: {"sha256": f.sha256, "size": f.size} for f in files}, indent=1) + "\n", encoding="utf-8")
    return {"written": written, "skipped": skipped, "wheels": wheels, "problems": problems, "manifest": manifest}


def _verified_files(root: Path, registry: Manifest | None) -> list[str]:
    """Registry files present under `root` with the registry's bytes."""
    if registry is None or not root.is_dir():
        return []
    return [f.path for f in registry.files
            if (root / f.path).is_file() and download._check(root / f.path, f.size, f.sha256) is None]
