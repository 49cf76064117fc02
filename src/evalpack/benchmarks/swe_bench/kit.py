"""Offline kits for SWE-bench: what `evalpack pack --with-images` / `evalpack unpack` call.

A packed benchmark folder (<dataset-dir>/swe_bench_verified_mini/) holds, besides test.jsonl:
  repos/<owner>__<name>.bundle   git bundles with every base_commit (oracle prompts, rebuilds)
  images/swe_bench_images.tar.gz `docker save` of the env and instance images (layers stored once), gzip -1
  images/images.json             which tags each archive holds, with sizes
On the isolated machine `unpack` (or the first eval that misses an image) runs `docker load`;
nothing ever contacts a registry.

`evalpack pack --with-images` calls stage_kit(<staging>/datasets/swe_bench_verified_mini, repos),
which runs pack_kit on the staged test.jsonl and returns the written files for the kit's
manifest.json; `evalpack unpack` verifies them like every dataset file, then calls unpack_kit.
    pack_kit(instances, repos={"django/django": clone_path, ...}, out_root=<kit>/swe_bench_verified_mini,
             with_images=True, arch=None)   -> report dict (bundle and archive sizes, seconds)
    unpack_kit(<dataset-dir>/swe_bench_verified_mini)  -> tags loaded
Standalone: python -m evalpack.benchmarks.swe_bench.kit pack --data DIR --out DIR \
    --repo django/django=PATH --repo sphinx-doc/sphinx=PATH [--instance-ids ID ...] [--force-arch ARCH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from evalpack.benchmarks.swe_bench import images
from evalpack.benchmarks.swe_bench.specs import load_extra_specs, spec_for
from evalpack.errors import EvalpackError, UsageError
from evalpack.jsonl import read_jsonl


def pack_kit(instances: list[dict], repos: dict[str, Path], out_root: Path, *, with_images: bool = True,
             arch: str | None = None, extra_specs: dict | None = None) -> dict:
    out_root = Path(out_root)
    started = time.monotonic()
    report: dict = {"bundles": images.make_git_bundles(instances, repos, out_root / "repos")}
    if with_images:
        arch = images.resolve_arch(arch)
        tags: list[str] = []
        git_dirs = {repo: images.open_repo(Path(path)) for repo, path in repos.items()}
        build_started = time.monotonic()
        for inst in instances:
            spec = spec_for(inst["repo"], inst["version"], extra_specs)
            env = images.build_env(inst["repo"], inst["version"], spec, arch)
            tag = images.build_instance(inst, spec, arch, git_dirs[inst["repo"]])
            tags += [t for t in (env, tag) if t not in tags]
        report["build_seconds"] = round(time.monotonic() - build_started, 1)
        # one archive: the base layers are stored once for all env images
        report["images"] = images.save_images({"swe_bench_images": tags}, out_root / "images")
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def stage_kit(root: Path, repos: dict[str, Path], *, with_images: bool, arch: str | None = None) -> list[dict]:
    """pack_kit on the dataset staged in `root`; returns what it wrote as kit-manifest file
    entries ({path, sha256, size}, paths relative to root) so unpack can verify each one."""
    root = Path(root)
    rows = read_jsonl(root / "test.jsonl")
    missing = sorted({r["repo"] for r in rows} - set(repos))
    if missing:
        raise UsageError(f"swe_bench_verified_mini needs a local clone of {', '.join(missing)} to bundle the "
                         f"base commits: pass " + " ".join(f"--repo {r}=PATH" for r in missing))
    extra = load_extra_specs(root / "specs.json") if (root / "specs.json").is_file() else None
    report = pack_kit(rows, repos, root, with_images=with_images, arch=arch, extra_specs=extra)
    files = [{"path": f"repos/{b['path']}", "sha256": b["sha256"], "size": b["bytes"]}
             for b in report["bundles"].values()]
    if with_images:
        files += [{"path": f"images/{a['file']}", "sha256": a["sha256"], "size": a["bytes"]}
                  for a in report["images"]["archives"]]
        listing = root / "images" / "images.json"
        files.append({"path": "images/images.json", "sha256": images.sha256_of(listing),
                      "size": listing.stat().st_size})
    return files


def unpack_kit(root: Path) -> list[str]:
    """Load the kit's images into the local engine (skips tags already present)."""
    return images.load_images(Path(root) / "images")


# --- the manifest's kit hook (datasets/pack.py and datasets/cli.py call these three) ---

def check_options(repos: dict[str, Path], with_images: bool, arch: str | None = None) -> None:
    """Before anything is downloaded: --with-images needs a Docker engine (said how to start one),
    and a foreign --force-arch needs emulation to build with."""
    if with_images:
        images.check_buildable(images.resolve_arch(arch))


def stage(root: Path, repos: dict[str, Path], with_images: bool, arch: str | None = None) -> list[dict]:
    """The packed files (git bundles, images) staged beside the dataset in `root`."""
    return stage_kit(root, repos, with_images=with_images, arch=arch)


def after_unpack(root: Path, packed: list[dict]) -> None:
    """`docker load` a verified kit's images now, so the first eval starts at once; with no
    engine here, say so: that eval loads the archive itself (it needs an engine anyway)."""
    from evalpack import docker_engine

    if not any(f["path"] == "images/images.json" for f in packed):
        return
    ok, why = docker_engine.available()
    if not ok:
        print(f"{root.name}: the kit's images were not loaded, and the first eval will load them from "
              f"{root / 'images'}; it needs a Docker engine: {why}")
        return
    tags = unpack_kit(root)
    print(f"{root.name}: {len(tags)} images in the Docker engine (listed in {root / 'images' / 'images.json'})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evalpack.benchmarks.swe_bench.kit")
    sub = p.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("pack", help="bundle repos and save images next to a copy of the dataset")
    pk.add_argument("--data", required=True, help="the dataset folder with test.jsonl")
    pk.add_argument("--out", required=True, help="the kit's folder for this benchmark")
    pk.add_argument("--repo", action="append", default=[], help="owner/name=PATH of a local clone")
    pk.add_argument("--instance-ids", nargs="*")
    pk.add_argument("--force-arch")
    pk.add_argument("--no-images", action="store_true")
    up = sub.add_parser("unpack", help="docker load the images of a kit")
    up.add_argument("root")
    a = p.parse_args(argv)
    try:
        if a.cmd == "unpack":
            print(json.dumps(unpack_kit(Path(a.root)), indent=2))
            return 0
        data, out = Path(a.data), Path(a.out)
        rows = read_jsonl(data / "test.jsonl")
        if a.instance_ids:
            rows = [r for r in rows if r["instance_id"] in set(a.instance_ids)]
        repos = dict(item.split("=", 1) for item in a.repo)
        if any("=" not in item for item in a.repo):
            raise UsageError("--repo takes owner/name=PATH")
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "test.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        extra = None
        if (data / "specs.json").is_file():
            shutil.copy(data / "specs.json", out / "specs.json")
            extra = load_extra_specs(data / "specs.json")
        report = pack_kit(rows, {k: Path(v) for k, v in repos.items()}, out, with_images=not a.no_images,
                          arch=a.force_arch, extra_specs=extra)
        print(json.dumps(report, indent=2))
        return 0
    except EvalpackError as exc:
        print(f"evalpack: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
