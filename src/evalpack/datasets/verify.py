"""Check dataset files against the registry, without writing anything anywhere.

Eval time hashes every file the run needs, each time, with no cache: MMLU's
114 files take ~25 ms and all 45 MB of the registry ~200 ms (perf/kit_size.py,
2 busy cores), while a cache would have to be written somewhere, and the dataset dir
is read-only by contract and writing into $HOME is what evalpack exists to avoid.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from evalpack.datasets.registry import Manifest
from evalpack.errors import DataMissingError
from evalpack.types import DataFile

log = logging.getLogger("evalpack")

# A dataset dir holding this file contains samples, not upstream files (e.g. the demo's
# 24 MMLU questions): eval skips the hash check for it and logs that it did.
SAMPLE_MARKER = "evalpack-sample.json"
# beside a sample kit's files, and a user's own set (`pack --local`) once unpacked: their hashes as
# the kit gave them, which eval and verify check them against
SAMPLE_HASHES = "evalpack-sample.sha256.json"
LOCAL_HASHES = "evalpack-local.sha256.json"
LIST_LIMIT = 20


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class Problem:
    file: DataFile
    kind: str  # "missing" | "corrupt"
    detail: str = ""

    def line(self, prefix: str = "") -> str:
        tail = f": {self.detail}" if self.detail else ""
        opt = " (optional)" if self.file.optional and self.kind == "missing" else ""
        return f"{self.kind.upper()}{opt} {prefix}{self.file.path}{tail}"


@dataclass
class Check:
    root: Path
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def missing(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "missing"]

    @property
    def corrupt(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "corrupt"]

    @property
    def failed(self) -> list[Problem]:
        """What makes a dir unusable: anything corrupt, and missing files that are not optional."""
        return [p for p in self.problems if p.kind == "corrupt" or not p.file.optional]


def check_file(root: Path, f: DataFile, hash_it: bool = True) -> Problem | None:
    path = root / f.path
    try:
        size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError):
        return Problem(f, "missing")
    except OSError as e:
        return Problem(f, "corrupt", f"cannot be read ({e.strerror or e})")
    if not path.is_file():
        return Problem(f, "corrupt", "not a regular file")
    if size != f.size:
        return Problem(f, "corrupt", f"{size} bytes, expected {f.size}")
    if hash_it:
        try:
            digest = sha256_file(path)
        except OSError as e:
            return Problem(f, "corrupt", f"cannot be read ({e.strerror or e})")
        if digest != f.sha256:
            return Problem(f, "corrupt", f"sha256 {digest[:12]}..., expected {f.sha256[:12]}... (same size)")
    return None


def check_files(root: Path, files: list[DataFile], hash_it: bool = True) -> Check:
    result = Check(root)
    for f in files:
        result.checked += 1
        problem = check_file(root, f, hash_it)
        if problem:
            result.problems.append(problem)
    return result


# --- eval time ---
def needed_files(bench, args: dict) -> list[DataFile]:
    """The files this run of `bench` reads: not optional, in a selected subset and a read split.
    Tags the benchmark does not use count as needed, so a naming mismatch (a subset the module
    calls otherwise, a module reading split "train" of a file tagged "test") errs on safety."""
    files = bench.data_files()
    selected = set(bench.selected_subsets(args))
    known = set(bench.subsets)
    splits = bench.data_splits(args)
    if not any(f.split in splits for f in files):
        splits = {f.split for f in files}
    return [f for f in files if not f.optional
            and (f.subset is None or f.subset not in known or f.subset in selected)
            and (f.split is None or f.split in splits)]


def check_before_run(items: list[tuple], data_dir: Path) -> None:
    """items: (bench, args) pairs. Raises one DataMissingError covering every dataset with a
    missing or corrupt file; called before any directory is made or request sent."""
    missing: list[tuple] = []  # (bench, root, problems, needed)
    corrupt: list[tuple] = []
    own: list[str] = []  # lines about users' own sets from a kit
    for bench, args in items:
        root = bench.root(data_dir, args)
        needed = needed_files(bench, args)
        if not needed:  # nothing declared: the benchmark's own load() reports what it lacks
            local = sample_files(root, LOCAL_HASHES) if root.is_dir() else []
            if local:  # a user's own set unpacked from a kit: checked against the kit's hashes
                result = check_files(root, local)
                if result.problems:
                    own.append(f"dataset {bench.name!r}: {len(result.problems)} files in {root} no longer match "
                               f"the kit they were unpacked from (`evalpack pack --local`):")
                    own += [f"  {p.file.path}: {p.detail or p.kind}" for p in result.problems[:LIST_LIMIT]]
                    own.append(f"  unpack the kit again, or delete {root / LOCAL_HASHES} if you changed them on "
                               f"purpose")
            elif not root.is_dir() and not (bench.info and bench.info.user_data):  # load() says it better
                missing.append((bench, root, [], []))
            continue
        if (root / SAMPLE_MARKER).is_file() or (root.parent / SAMPLE_MARKER).is_file():
            log.info("%s: %s holds sample data (%s): not checked against upstream hashes",
                     bench.name, root, SAMPLE_MARKER)
            sample = sample_files(root)
            if sample:  # unpacked from a kit: checked against the hashes the kit gave them
                result = check_files(root, sample)
                if result.missing or result.corrupt:
                    corrupt.append((bench, root, result.missing + result.corrupt, sample))
            continue
        if root.is_dir() and unmanaged(root, bench.data_files()):
            log.warning("%s: %s holds none of the registry's files (another layout?): loading it unverified",
                        bench.name, root)
            continue
        result = check_files(root, needed)
        if result.missing:
            missing.append((bench, root, result.missing, needed))
        if result.corrupt:
            corrupt.append((bench, root, result.corrupt, needed))
    if missing or corrupt or own:
        raise DataMissingError("\n".join(own + ([data_message(missing, corrupt, data_dir)] if missing or corrupt
                                                 else [])))


def sample_files(root: Path, name: str = SAMPLE_HASHES) -> list[DataFile]:
    """The files (with hashes) `unpack` wrote for a sample kit (or, with LOCAL_HASHES, for a user's
    own set), or [] for a dir made by hand."""
    import json

    path = root / name
    try:
        listed = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        return [DataFile(path=p, sha256=v["sha256"], size=v["size"]) for p, v in listed.items()]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return [DataFile(path=name, sha256="0" * 64, size=-1)]  # damaged: reported


def local_sets(data_dir: Path) -> dict[str, list[DataFile]]:
    """Users' own sets under a dataset dir (unpacked from `pack --local`): name -> their files."""
    try:
        dirs = sorted(d for d in data_dir.iterdir() if (d / LOCAL_HASHES).is_file())
    except OSError:
        return {}
    return {d.name: sample_files(d, LOCAL_HASHES) for d in dirs}


def unmanaged(root: Path, files: list[DataFile]) -> bool:
    """A non-empty dir with none of the registry's files: a layout the loader may still read
    (e.g. MMLU as HF parquet). An empty dir, or one with some registry files, is checked."""
    if any((root / f.path).exists() for f in files):
        return False
    return any(p.is_file() for p in root.rglob("*"))


def data_message(missing: list[tuple], corrupt: list[tuple], data_dir: Path) -> str:
    lines = []
    for bench, root, problems, needed in missing:
        if not root.is_dir():
            head = f"dataset {bench.name!r} is not in the dataset dir: {root} does not exist"
            if needed:
                head += f" ({len(needed)} files expected there)"
            else:
                head += " (its files are not in evalpack's registry: copy the upstream files there)"
        else:
            head = f"dataset {bench.name!r} is missing {len(problems)} of {len(needed)} files in {root}"
        lines.append(head + (":" if problems or needed else ""))
        shown = problems or [Problem(f, "missing") for f in needed]
        limit = LIST_LIMIT if root.is_dir() else 5  # a whole dir missing: a few names say enough
        lines += [f"  {p.file.path}" for p in shown[:limit]]
        if len(shown) > limit:
            lines.append(f"  ... and {len(shown) - limit} more "
                         f"(`evalpack verify --dataset-dir {data_dir} --datasets {bench.name}` lists them all)")
    for bench, root, problems, _ in corrupt:
        lines.append(f"dataset {bench.name!r} has {len(problems)} corrupt files in {root}:")
        lines += [f"  {p.file.path}: {p.detail}" for p in problems[:LIST_LIMIT]]
    lines.append(f"dataset dir: {data_dir} (from --dataset-dir, else $EVALPACK_DATA, "
                 f"else ~/.cache/evalpack/datasets)")
    names = list(dict.fromkeys(b.name for b, _, _, needed in missing + corrupt if needed))
    if not names:
        return "\n".join(lines)
    mirror = any(f.derived for b, _, _, needed in missing + corrupt for f in needed)
    lines.append("evalpack never downloads at eval time. On a connected machine run:")
    lines.append(f"  {pack_command(names, mirror)}")
    lines.append("then copy evalpack-data.tar here and run:")
    lines.append(f"  evalpack unpack evalpack-data.tar --to {data_dir}")
    return "\n".join(lines)


def pack_command(names: list[str], mirror: bool = False) -> str:
    cmd = f"evalpack pack --datasets {' '.join(names)} --out evalpack-data.tar"
    if mirror:  # derived files have no upstream URL: they come from a verified copy
        cmd += " --mirror VERIFIED_DATASET_DIR_OR_URL"
    return cmd


# --- `evalpack verify` ---
def verify_dir(data_dir: Path, manifests: list[Manifest]) -> dict[str, Check]:
    return {m.name: check_files(data_dir / m.name, m.files) for m in manifests}
